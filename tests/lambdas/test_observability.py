"""Per-invocation observability: each invocation publishes its own EMF document and logs its own
Lambda context keys, also when invocations of one process overlap (the local runtime runs Map
iterations as threads, each in a copied `contextvars` context, as imgpipe/local/lambda_seam.py does).

The planner handler is used: it needs no S3, so the tests are about observability only."""

from __future__ import annotations

import contextvars
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.logging import logger as powertools_logger
from aws_lambda_powertools.metrics.provider import cold_start as metrics_cold_start

from lambdas.core.errors import InvalidRecipeError
from lambdas.image_multiple_convert_resize.handler import handler as plan_handler
from lambdas.observability import MetricUnit, NoInvocationError, instrumented, logger, metrics
from tests.lambdas.conftest import load_event
from tests.support.lambda_context import FakeLambdaContext

GUARD_SECONDS = 30  # hang guard for the barrier, not a performance threshold


@pytest.fixture
def cold_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh execution environment as Powertools sees it: its cold-start flags set again."""
    monkeypatch.setattr(powertools_logger, "is_cold_start", True)
    monkeypatch.setattr(metrics_cold_start, "is_cold_start", True)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Where the Logger writes (its handler was bound to stdout at import, so the stream is swapped)."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def emf_documents(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_cold_start_metric_once_then_application_metrics_per_invocation(
    worker_env: dict[str, str], cold_process: None, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("image_multiple_convert_resize")
    plan_handler(event, FakeLambdaContext(aws_request_id="first"))
    plan_handler(event, FakeLambdaContext(aws_request_id="second"))
    documents = emf_documents(capsys.readouterr().out)

    cold = [doc for doc in documents if "ColdStart" in doc]
    assert len(cold) == 1
    assert cold[0]["function_name"] == "imgpipe-test"
    assert cold[0]["service"] == worker_env["POWERTOOLS_SERVICE_NAME"]
    assert cold[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "imgpipe"

    planned = [doc for doc in documents if "RenditionsPlanned" in doc]
    assert [doc["RenditionsPlanned"] for doc in planned] == [[9.0], [9.0]]
    for doc in planned:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "imgpipe"
        assert directive["Dimensions"] == [["service"]]
        assert directive["Metrics"] == [{"Name": "RenditionsPlanned", "Unit": "Count"}]
        assert doc["service"] == "imgpipe-test"


def test_namespace_and_service_are_read_per_invocation(
    worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("image_multiple_convert_resize")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "imgpipe-staging")
    plan_handler(event, FakeLambdaContext())
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE")
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")
    plan_handler(event, FakeLambdaContext())
    planned = [doc for doc in emf_documents(capsys.readouterr().out) if "RenditionsPlanned" in doc]
    assert [doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] for doc in planned] == [
        "imgpipe-staging",
        "imgpipe",
    ]
    # without POWERTOOLS_SERVICE_NAME the service is the task package's name
    assert [doc["service"] for doc in planned] == ["imgpipe-test", "image_multiple_convert_resize"]


def test_metrics_disabled_publishes_nothing(
    worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    result = plan_handler(load_event("image_multiple_convert_resize"), FakeLambdaContext())
    assert len(result["dynamicForkItems"]) == 9
    assert emf_documents(capsys.readouterr().out) == []


def test_log_lines_carry_the_invocation_keys_and_nothing_leaks_after_it(
    worker_env: dict[str, str], cold_process: None, log_stream: io.StringIO
) -> None:
    event = load_event("image_multiple_convert_resize")
    plan_handler(event, FakeLambdaContext(aws_request_id="req-1"))
    plan_handler(event, FakeLambdaContext(aws_request_id="req-2", function_name="imgpipe-other"))
    logger.info("between invocations")

    first, second, outside = json_lines(log_stream)
    assert first["message"] == second["message"] == "plan built"
    assert (first["function_request_id"], first["cold_start"]) == ("req-1", True)
    assert (second["function_request_id"], second["cold_start"]) == ("req-2", False)
    assert second["function_name"] == "imgpipe-other"
    assert second["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-other"
    assert first["function_memory_size"] == 1024
    assert first["service"] == second["service"] == "imgpipe-test"
    assert "function_request_id" not in outside
    assert "cold_start" not in outside


def test_a_failing_invocation_flushes_what_it_recorded_and_raises_its_typed_error(
    worker_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    @instrumented
    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="AttemptsBeforeFailure", unit=MetricUnit.Count, value=1)
        raise InvalidRecipeError("outputSizes", "must not be empty")

    with pytest.raises(InvalidRecipeError, match="outputSizes"):
        failing({}, FakeLambdaContext())
    documents = emf_documents(capsys.readouterr().out)
    assert [doc["AttemptsBeforeFailure"] for doc in documents if "AttemptsBeforeFailure" in doc] == [[1.0]]
    with pytest.raises(NoInvocationError):  # the invocation's metrics ended with it
        metrics.add_metric(name="Late", unit=MetricUnit.Count, value=1)


def test_a_metric_outside_an_invocation_is_a_clear_error() -> None:
    with pytest.raises(NoInvocationError, match="outside an instrumented handler"):
        metrics.add_metric(name="Orphan", unit=MetricUnit.Count, value=1)


def test_overlapping_invocations_keep_their_own_metrics_and_log_keys(
    worker_env: dict[str, str], log_stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each invocation records, then waits until all have recorded, then logs and flushes: with shared
    state one flush would publish every value and the log lines would carry the last request id."""
    invocations = 6
    barrier = threading.Barrier(invocations)

    @instrumented
    def work(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="Units", unit=MetricUnit.Count, value=event["units"])
        metrics.add_dimension(name="tenant", value=event["tenant"])
        barrier.wait(timeout=GUARD_SECONDS)
        logger.info("done", extra={"units": event["units"]})
        return {"units": event["units"]}

    def call(number: int) -> None:
        work({"units": number, "tenant": f"t{number}"}, FakeLambdaContext(aws_request_id=f"req-{number}"))

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(call, number))
        for number in range(invocations)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=GUARD_SECONDS)
    assert not any(thread.is_alive() for thread in threads)

    documents = [doc for doc in emf_documents(capsys.readouterr().out) if "Units" in doc]
    assert sorted((doc["Units"], doc["tenant"]) for doc in documents) == [
        ([float(number)], f"t{number}") for number in range(invocations)
    ]
    assert sorted((line["function_request_id"], line["units"]) for line in json_lines(log_stream)) == [
        (f"req-{number}", number) for number in range(invocations)
    ]


def test_log_event_setting_is_honoured_per_invocation(
    worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, log_stream: io.StringIO
) -> None:
    event = load_event("image_multiple_convert_resize")
    plan_handler(event, FakeLambdaContext(aws_request_id="quiet"))
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    plan_handler(event, FakeLambdaContext(aws_request_id="verbose"))
    logged_events = [line for line in json_lines(log_stream) if line["message"] == event]
    assert [line["function_request_id"] for line in logged_events] == ["verbose"]
