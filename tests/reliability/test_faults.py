"""Faults injected into the local runtime: the translated Retry policies recover, the history shows it.

Faults are injected where they happen on AWS: in the HTTP layer of the workers' own S3 client
(botocore `before-send` inside the worker process, so the adapter's error mapping and botocore's own
retries are exercised), in the Lambda service (the seam's fault_injector), and in the function
(tests/support/worker_faults.py around the real handler: it fails its first calls, or outlives the
function timeout and is killed).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from imgpipe.config import RESIZE_TASK
from imgpipe.local.engine import LocalAws
from imgpipe.local.lambda_seam import lambda_service_error
from tests.reliability.checks import PIL_FORMAT, decode
from tests.reliability.corpus import BY_NAME
from tests.reliability.pipeline import (
    MULTI_IMAGE_WORKFLOW,
    SINGLE_IMAGE_WORKFLOW,
    Finished,
    fault_plan,
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
def _botocore_attempts() -> int:
    """Total HTTP attempts botocore makes per call of the workers' client (its first included)."""
    from lambdas.adapters import s3 as s3_adapter

    retries = s3_adapter.client().meta.config.retries or {}
    return int(retries.get("total_max_attempts") or retries.get("max_attempts") or 1)


@pytest.mark.parametrize("operation", ["GetObject", "PutObject"])
@pytest.mark.parametrize(
    ("fault", "error"),
    [("SlowDown", "StorageThrottledError"), ("ConnectionRefused", "TransientSourceError")],
    ids=["SlowDown-503", "connection-error"],
)
def test_s3_faults_on_first_calls_are_retried_to_success(
    operation: str, fault: str, error: str, tmp_path: Path
) -> None:
    # One more failure than botocore absorbs: exactly one Lambda attempt fails, the Retry recovers.
    plan = fault_plan(
        RESIZE_TASK, tmp_path, s3_operation=operation, s3_fault=fault, s3_count=_botocore_attempts() + 1
    )
    with local_pipeline(faults={RESIZE_TASK: plan}) as aws:
        location = _upload_source(aws)
        result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name=f"s3-{operation}")

        assert plan.count("s3-call") > plan.s3_count, "the fault was never reached"
        assert result.failures() == [error]
        assert result.attempts("image_convert_resize") == 2
        _assert_one_good_rendition(aws, result)
        assert aws.s3.get_object(Bucket=aws.deployment.input_bucket, Key=key_of(location))["Body"].read() == (
            SOURCE.data
        )


# --- faults in the function itself ----------------------------------------------------------------
TRANSIENT = "lambdas.core.errors.TransientSourceError"


def test_handler_transient_errors_are_retried_to_success(tmp_path: Path) -> None:
    plan = fault_plan(RESIZE_TASK, tmp_path, fail_first=2, error=TRANSIENT, message="injected: reset")
    with local_pipeline(faults={RESIZE_TASK: plan}) as aws:
        location = _upload_source(aws)
        result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name="transient")
        assert result.failures() == ["TransientSourceError", "TransientSourceError"]
        assert result.attempts("image_convert_resize") == 3
        _assert_one_good_rendition(aws, result)


def test_handler_over_its_function_timeout_is_killed_and_retried_to_success(tmp_path: Path) -> None:
    """Lambda stops an invocation at the function timeout (Sandbox.Timedout); the Retry runs it again
    in a fresh environment. The killed first attempt publishes nothing."""
    plan = fault_plan(RESIZE_TASK, tmp_path, fail_first=1, hang_seconds=30)
    with local_pipeline(faults={RESIZE_TASK: plan}) as aws:
        function = aws.router.function(aws.config.function_name(RESIZE_TASK))
        function.timeout_seconds = 1.0
        location = _upload_source(aws)
        result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name="timeout")
        assert result.failures() == ["Sandbox.Timedout"]
        assert result.attempts("image_convert_resize") == 2
        _assert_one_good_rendition(aws, result)
        assert aws.router.pool(function.name).started == 2  # the killed environment was replaced


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


def test_retries_are_bounded_when_the_fault_never_clears(tmp_path: Path) -> None:
    """A transient error that never clears ends the execution after the policy's attempts: no storm."""
    plan = fault_plan(RESIZE_TASK, tmp_path, fail_first=10_000, error=TRANSIENT)
    with local_pipeline(faults={RESIZE_TASK: plan}) as aws:
        location = _upload_source(aws)
        result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, RECIPE), name="forever")
        assert result.status == "FAILED"
        assert result.error == "TransientSourceError"
        retry_count = 3  # statemachines/conductor/tasks/image_convert_resize.json retryCount
        assert result.attempts("image_convert_resize") == 1 + retry_count
        assert objects(aws, aws.deployment.output_bucket) == {}


# --- a permanent failure in one Map item -------------------------------------------------------
def test_permanent_failure_of_one_map_item_fails_the_execution_and_keeps_the_others_intact(
    tmp_path: Path,
) -> None:
    """Documented policy (docs/reliability.md): one failed rendition fails the execution, with the
    rendition's typed error; renditions already published stay, complete and valid; nothing retried."""

    healthy_items = 4  # webp and jpg at two sizes
    # The png items fail only once the healthy items are done (all items run at once: MaxConcurrency
    # 20), so the test knows exactly what must have been kept.
    plan = fault_plan(
        RESIZE_TASK,
        tmp_path,
        fail_first=10_000,
        when={"outputFormat": "png"},
        wait_for_successes=healthy_items,
        error="lambdas.core.errors.CorruptImageError",
        message="injected permanent failure of the png rendition",
    )
    # one environment per item, as on AWS: a waiting png item never holds up a healthy one
    with local_pipeline(faults={RESIZE_TASK: plan}, max_environments=6) as aws:
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
