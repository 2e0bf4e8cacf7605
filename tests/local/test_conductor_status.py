"""A retried task in Conductor's shape: one task per attempt, read from a real execution history in
which the resize worker is throttled once (a retryable error the translated Retry takes)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from imgpipe.config import RESIZE_TASK
from imgpipe.local.engine import LocalAws, default_handler
from lambdas.conductor.status import RunMetadata, workflow_document
from tests.support import worker_faults

GUARD_SECONDS = 120  # hang guard for the wait, not a performance threshold


def test_a_retried_task_is_one_conductor_task_per_attempt(tmp_path: Path) -> None:
    plan = worker_faults.FaultPlan(
        handler=default_handler(RESIZE_TASK),
        state_dir=str(tmp_path),
        fail_first=1,
        error="lambdas.core.errors.StorageThrottledError",
        message="SlowDown (injected)",
    )

    def handler_for(task: str) -> str:
        return worker_faults.HANDLER if task == RESIZE_TASK else default_handler(task)

    with LocalAws(
        time_scale=0.0, handler_for=handler_for, extra_environment={RESIZE_TASK: plan.environment()}
    ) as engine:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (10, 200, 30)).save(buffer, "PNG")
        engine.s3.put_object(
            Bucket=engine.deployment.input_bucket, Key="local-runs/t/a.png", Body=buffer.getvalue()
        )
        arn = engine.start_execution(
            "image_convert_resize",
            {
                "fileLocation": f"s3://{engine.deployment.input_bucket}/local-runs/t/a.png",
                "recipeParameters": {"outputFormat": "webp", "outputSize": {"width": 32, "height": 32}},
            },
        )
        described = engine.wait(arn, timeout_seconds=GUARD_SECONDS)
        definition = {
            "tasks": [
                {"name": "image_convert_resize", "taskReferenceName": "image_convert_resize_ref"},
                {"name": "upload_toS3", "taskReferenceName": "upload_toS3_ref"},
            ]
        }
        document = workflow_document(
            described,
            engine.history(arn),
            workflow_name="image_convert_resize",
            workflow_version=1,
            definition=definition,
            metadata=RunMetadata(correlation_id="c-1", priority=3),
        )
    assert document["status"] == "COMPLETED"
    attempts = [
        (t["referenceTaskName"], t["retryCount"], t["status"], t["retried"], t["seq"])
        for t in document["tasks"]
    ]
    assert attempts == [
        ("image_convert_resize_ref", 0, "FAILED", True, 1),
        ("image_convert_resize_ref", 1, "COMPLETED", False, 2),
        ("upload_toS3_ref", 0, "COMPLETED", False, 3),
    ]
    first, second, _ = document["tasks"]
    assert first["reasonForIncompletion"].startswith("StorageThrottledError: fileLocation: SlowDown")
    assert first["inputData"] == second["inputData"]
    assert second["inputData"]["outputFormat"] == "webp"
    assert second["outputData"]["fileLocation"].endswith(".webp")
    assert first["taskId"] != second["taskId"]
    assert document["failedReferenceTaskNames"] == []  # the attempt that failed was retried
    assert {t["workflowPriority"] for t in document["tasks"]} == {3}
