"""Faults injected into the local runtime: the translated Retry policies recover, the history shows it.

Faults are injected where they happen on AWS: in the HTTP layer of the workers' own S3 client
(botocore `before-send`, so the adapter's error mapping and botocore's own retries are exercised),
in the Lambda service (the seam's fault_injector), and in the function (a wrapper around the real
handler that fails its first calls, or outlives the function timeout).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError

from imgpipe.config import RESIZE_TASK
from imgpipe.local.engine import LocalAws, default_handler
from imgpipe.local.lambda_seam import lambda_service_error
from lambdas.core.errors import CorruptImageError, TransientSourceError
from tests.reliability.checks import PIL_FORMAT, decode
from tests.reliability.corpus import BY_NAME
from tests.reliability.pipeline import (
    MULTI_IMAGE_WORKFLOW,
    SINGLE_IMAGE_WORKFLOW,
    Finished,
    Handler,
    key_of,
    local_pipeline,
    objects,
    run,
    single_image_input,
)

SOURCE = BY_NAME["exif-6.jpg"]
RECIPE = {"outputFormat": "webp", "outputWidth": 30, "outputHeight": 30}


def _upload_source(aws: LocalAws, key: str = "faults/source.jpg") -> str:
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=SOURCE.data)
    return f"s3://{aws.deployment.input_bucket}/{key}"


def _assert_one_good_rendition(aws: LocalAws, result: Finished) -> None:
    assert result.status == "SUCCEEDED", f"{result.error}: {result.error_message()}"
    outputs = objects(aws, aws.deployment.output_bucket)
    assert list(outputs) == [key_of(result.output["fileLocation"])]
    image = decode(next(iter(outputs.values())))
    assert image.format == PIL_FORMAT["webp"]
    assert image.size == (30, 20)


# --- S3 faults, injected into the workers' S3 client ----------------------------------------------
class _Raw:
    """The raw stream botocore reads an HTTP response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        return self._body


def _slow_down(request: Any) -> AWSResponse:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
        b"<Message>Please reduce your request rate.</Message><RequestId>FAULT</RequestId></Error>"
    )
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/xml"
    return AWSResponse(request.url, 503, headers, _Raw(body))


def _connection_refused(request: Any) -> AWSResponse:
    raise EndpointConnectionError(endpoint_url=request.url)


class S3FaultInjector:
    """Fails the first `count` HTTP attempts of one S3 operation of the workers' client."""

    def __init__(self, operation: str, count: int, fault: Callable[[Any], AWSResponse]) -> None:
        self.operation, self.count, self.fault = operation, count, fault
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        with self._lock:
            self.calls += 1
            failing = self.calls <= self.count
        return self.fault(request) if failing else None


def _workers_s3_client() -> Any:
    from lambdas.adapters import s3 as s3_adapter

    return s3_adapter.client()


def _botocore_attempts(client: Any) -> int:
    """Total HTTP attempts botocore makes per call (its max_attempts includes the first)."""
    retries = client.meta.config.retries or {}
    return int(retries.get("total_max_attempts") or retries.get("max_attempts") or 1)


@pytest.mark.parametrize("operation", ["GetObject", "PutObject"])
@pytest.mark.parametrize(
    ("fault", "error"),
    [(_slow_down, "StorageThrottledError"), (_connection_refused, "TransientSourceError")],
    ids=["SlowDown-503", "connection-error"],
)
def test_s3_faults_on_first_calls_are_retried_to_success(
    operation: str, fault: Callable[[Any], AWSResponse], error: str
) -> None:
    with local_pipeline() as aws:
        location = _upload_source(aws)
        client = _workers_s3_client()
        # One more failure than botocore absorbs: exactly one Lambda attempt fails, the Retry recovers.
        injector = S3FaultInjector(operation, _botocore_attempts(client) + 1, fault)
        client.meta.events.register_first(f"before-send.s3.{operation}", injector)
        result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name=f"s3-{operation}")

        assert injector.calls > injector.count, "the fault was never reached"
        assert result.failures() == [error]
        assert result.attempts("image_convert_resize") == 2
        _assert_one_good_rendition(aws, result)
        assert aws.s3.get_object(Bucket=aws.deployment.input_bucket, Key=key_of(location))["Body"].read() == (
            SOURCE.data
        )


# --- faults in the function itself ----------------------------------------------------------------
def _failing_first(
    task: str, calls: int, failure: Callable[[dict[str, Any]], Any]
) -> Callable[[str], Handler]:
    """handler_for: the real handler of every task, except that `task` runs `failure` on its first calls."""
    counter = itertools.count(1)

    def handler_for(name: str) -> Handler:
        real = default_handler(name)
        if name != task:
            return real

        def handler(event: dict[str, Any], context: Any) -> Any:
            if next(counter) <= calls:
                return failure(event)
            return real(event, context)

        return handler

    return handler_for


def _transient(event: dict[str, Any]) -> Any:
    raise TransientSourceError("fileLocation", "injected: connection reset by peer")


def test_handler_transient_errors_are_retried_to_success() -> None:
    with local_pipeline(handler_for=_failing_first(RESIZE_TASK, 2, _transient)) as aws:
        location = _upload_source(aws)
        result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name="transient")
        assert result.failures() == ["TransientSourceError", "TransientSourceError"]
        assert result.attempts("image_convert_resize") == 3
        _assert_one_good_rendition(aws, result)


def test_handler_over_its_function_timeout_is_retried_to_success() -> None:
    """Lambda kills an invocation at the function timeout (Sandbox.Timedout); the Retry runs it again.

    The sleeping first attempt does no work: a timed-out Lambda is frozen, so it never publishes.
    """
    released = threading.Event()

    def hang(event: dict[str, Any]) -> Any:
        released.wait(timeout=5)
        return None

    with local_pipeline(handler_for=_failing_first(RESIZE_TASK, 1, hang)) as aws:
        function = aws.router.function(aws.config.function_name(RESIZE_TASK))
        function.timeout_seconds = 0.5
        location = _upload_source(aws)
        try:
            result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name="timeout")
        finally:
            released.set()
        assert result.failures() == ["Sandbox.Timedout"]
        assert result.attempts("image_convert_resize") == 2
        _assert_one_good_rendition(aws, result)


SERVICE_ERRORS = [("ServiceException", 500), ("TooManyRequestsException", 429)]


def _run_with_service_errors(aws: LocalAws, code: str, status: int) -> Finished:
    calls = itertools.count(1)
    resize_function = aws.config.function_name(RESIZE_TASK)

    def inject(function_name: str, event: Any) -> None:
        if function_name == resize_function and next(calls) <= 2:
            raise lambda_service_error(code, "injected by the reliability suite", status)

    aws.router.fault_injector = inject
    location = _upload_source(aws)
    return run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name=f"service-{code}")


@pytest.mark.parametrize(("code", "status"), SERVICE_ERRORS)
def test_lambda_service_errors_are_retried_to_success(code: str, status: int) -> None:
    with local_pipeline() as aws:
        result = _run_with_service_errors(aws, code, status)
        assert len(result.failures()) == 2
        assert result.attempts("image_convert_resize") == 3
        _assert_one_good_rendition(aws, result)


@pytest.mark.parametrize(("code", "status"), SERVICE_ERRORS)
def test_lambda_service_errors_have_their_aws_names(code: str, status: int) -> None:
    """On AWS a Lambda API error reaches the Retry as `Lambda.<code>` (matched by the translator's
    service-error retrier: 3 jittered attempts, 1 s base). moto reports them so only for the
    arn:aws:states:::lambda:invoke integration; with Resource = function ARN it says `Exception`."""
    with local_pipeline() as aws:
        result = _run_with_service_errors(aws, code, status)
        assert result.failures() == [f"Lambda.{code}"] * 2


def test_retries_are_bounded_when_the_fault_never_clears() -> None:
    """A transient error that never clears ends the execution after the policy's attempts: no storm."""
    with local_pipeline(handler_for=_failing_first(RESIZE_TASK, 10_000, _transient)) as aws:
        location = _upload_source(aws)
        result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name="forever")
        assert result.status == "FAILED"
        assert result.error == "TransientSourceError"
        retry_count = 3  # statemachines/conductor/tasks/image_convert_resize.json retryCount
        assert result.attempts("image_convert_resize") == 1 + retry_count
        assert objects(aws, aws.deployment.output_bucket) == {}


# --- a permanent failure in one Map item -------------------------------------------------------
def _corrupt_png(event: dict[str, Any]) -> Any:
    raise CorruptImageError("fileLocation", "injected permanent failure of the png rendition")


def test_permanent_failure_of_one_map_item_fails_the_execution_and_keeps_the_others_intact() -> None:
    """Documented policy (docs/reliability.md): one failed rendition fails the execution, with the
    rendition's typed error; renditions already published stay, complete and valid; nothing retried."""

    healthy_items = 4  # webp and jpg at two sizes
    finished_healthy: list[str] = []
    all_healthy_done = threading.Event()
    lock = threading.Lock()

    def handler_for(name: str) -> Handler:
        real = default_handler(name)
        if name != RESIZE_TASK:
            return real

        def handler(event: dict[str, Any], context: Any) -> Any:
            if event.get("outputFormat") != "png":
                result = real(event, context)
                with lock:
                    finished_healthy.append(result["fileLocation"])
                    if len(finished_healthy) == healthy_items:
                        all_healthy_done.set()
                return result
            # Fail only once the healthy items are done (all items run at once: MaxConcurrency 20),
            # so the test knows exactly what must have been kept. The timeout is a hang guard.
            assert all_healthy_done.wait(timeout=25)
            return _corrupt_png(event)

        return handler

    with local_pipeline(handler_for=handler_for) as aws:
        location = _upload_source(aws)
        workflow_input = {
            "fileLocation": location,
            "outputFormats": ["webp", "png", "jpg"],
            "outputSizes": [{"width": 40, "height": 40}, {"width": 20, "height": 20}],
            "maintainAspectRatio": True,
        }
        result = run(aws, MULTI_IMAGE_WORKFLOW, workflow_input, name="map-item-fails")

        assert result.status == "FAILED"
        assert result.error == "CorruptImageError"
        assert "png" in result.error_message()
        png_attempts = [
            call["outputWidth"]
            for call in result.lambda_calls(RESIZE_TASK)
            if call.get("outputFormat") == "png"
        ]
        assert png_attempts, "the failing item ran"
        assert len(png_attempts) == len(set(png_attempts)), "a png item was retried after CorruptImageError"
        outputs = objects(aws, aws.deployment.output_bucket)
        assert len(outputs) == healthy_items, "every healthy rendition stays published"
        for key, data in outputs.items():
            image = decode(data)
            extension = key.rsplit(".", 1)[-1]
            assert image.format == {"webp": "WEBP", "jpg": "JPEG"}[extension], key
            assert max(image.size) in (20, 40), key
