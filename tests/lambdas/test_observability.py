"""Observability as on Lambda: each worker process is one execution environment whose Powertools
Logger and Metrics are built once from the function's environment, and the handlers wear
Powertools' standard decorators (lambdas/observability.py). The handlers run here as the local
runtime runs them, in worker processes (imgpipe/local/lambda_seam.py), and what they print is read
back from each invocation, as from CloudWatch Logs.

The planner handler is used: it needs no S3, so the tests are about observability only."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from imgpipe.local.engine import default_handler
from imgpipe.local.lambda_seam import Invocation, LambdaRouter
from tests.lambdas.conftest import load_event

PLANNER = "image_multiple_convert_resize"


@pytest.fixture
def router() -> Iterator[LambdaRouter]:
    runtime = LambdaRouter()
    yield runtime
    runtime.close()


def _deploy(router: LambdaRouter, environment: Mapping[str, str], name: str = "imgpipe-test") -> str:
    router.register(name, default_handler(PLANNER), environment=environment, memory_mb=1024)
    return name


def _invoke(router: LambdaRouter, name: str, event: Any) -> tuple[dict[str, Any], Invocation]:
    response = router.invoke(FunctionName=name, Payload=json.dumps(event))
    return json.loads(response["Payload"].read()), router.invocations[-1]


def emf_documents(invocation: Invocation) -> list[dict[str, Any]]:
    return [json.loads(line) for line in invocation.logs.splitlines() if line.startswith('{"_aws"')]


def log_lines(invocation: Invocation) -> list[dict[str, Any]]:
    return [json.loads(line) for line in invocation.logs.splitlines() if line.startswith('{"level"')]


def test_cold_start_metric_once_per_environment_then_application_metrics_per_invocation(
    router: LambdaRouter, worker_env: dict[str, str]
) -> None:
    name = _deploy(router, worker_env)
    event = load_event(PLANNER)
    _, first = _invoke(router, name, event)
    _, second = _invoke(router, name, event)

    cold = [doc for doc in emf_documents(first) + emf_documents(second) if "ColdStart" in doc]
    assert len(cold) == 1
    assert cold[0]["function_name"] == name
    assert cold[0]["service"] == worker_env["POWERTOOLS_SERVICE_NAME"]
    assert cold[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "imgpipe"
    for invocation in (first, second):
        (planned,) = [doc for doc in emf_documents(invocation) if "RenditionsPlanned" in doc]
        assert planned["RenditionsPlanned"] == [9.0]
        directive = planned["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "imgpipe"
        assert directive["Dimensions"] == [["service"]]
        assert directive["Metrics"] == [{"Name": "RenditionsPlanned", "Unit": "Count"}]
    assert router.pool(name).started == 1


def test_namespace_and_service_are_the_functions_environment(
    router: LambdaRouter, worker_env: dict[str, str]
) -> None:
    staging = _deploy(router, worker_env | {"POWERTOOLS_METRICS_NAMESPACE": "imgpipe-staging"}, "staging")
    unnamed = {k: v for k, v in worker_env.items() if k != "POWERTOOLS_METRICS_NAMESPACE"}
    default = _deploy(router, unnamed | {"POWERTOOLS_SERVICE_NAME": "renditions"}, "default")
    event = load_event(PLANNER)
    documents = [
        doc
        for name in (staging, default)
        for doc in emf_documents(_invoke(router, name, event)[1])
        if "RenditionsPlanned" in doc
    ]
    assert [doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] for doc in documents] == [
        "imgpipe-staging",
        "imgpipe",  # lambdas.observability.DEFAULT_NAMESPACE
    ]
    assert [doc["service"] for doc in documents] == ["imgpipe-test", "renditions"]


def test_metrics_disabled_publishes_no_application_metric(
    router: LambdaRouter, worker_env: dict[str, str]
) -> None:
    name = _deploy(router, worker_env | {"POWERTOOLS_METRICS_DISABLED": "true"})
    result, invocation = _invoke(router, name, load_event(PLANNER))
    assert len(result["dynamicForkItems"]) == 9
    # Powertools 3 still writes its ColdStart single metric; what the handler records is dropped
    assert [doc for doc in emf_documents(invocation) if "ColdStart" not in doc] == []


def test_log_lines_carry_each_invocations_lambda_context(
    router: LambdaRouter, worker_env: dict[str, str]
) -> None:
    name = _deploy(router, worker_env)
    event = load_event(PLANNER)
    (first,) = log_lines(_invoke(router, name, event)[1])
    (second,) = log_lines(_invoke(router, name, event)[1])
    assert first["message"] == second["message"] == "plan built"
    assert (first["cold_start"], second["cold_start"]) == (True, False)
    assert first["function_request_id"] != second["function_request_id"]
    assert second["function_name"] == name
    assert second["function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert first["function_memory_size"] == 1024
    assert first["service"] == second["service"] == "imgpipe-test"


def test_a_failing_invocation_flushes_what_it_recorded_and_fails_with_its_typed_error(
    router: LambdaRouter, worker_env: dict[str, str]
) -> None:
    router.register("failing", "tests.support.seam_workers.metered_failure", environment=worker_env)
    payload, invocation = _invoke(router, "failing", {})
    assert payload["errorType"] == "InvalidRecipeError"
    assert "outputSizes" in payload["errorMessage"]
    recorded = [
        doc["AttemptsBeforeFailure"] for doc in emf_documents(invocation) if "AttemptsBeforeFailure" in doc
    ]
    assert recorded == [[1.0]]


def test_log_event_setting_is_the_functions(router: LambdaRouter, worker_env: dict[str, str]) -> None:
    quiet = _deploy(router, worker_env, "quiet")
    verbose = _deploy(router, worker_env | {"POWERTOOLS_LOGGER_LOG_EVENT": "true"}, "verbose")
    event = load_event(PLANNER)
    logged = {
        name: [line for line in log_lines(_invoke(router, name, event)[1]) if line["message"] == event]
        for name in (quiet, verbose)
    }
    assert (len(logged[quiet]), len(logged[verbose])) == (0, 1)
