"""The S3 trigger end to end in the local engine: PutObject -> EventBridge-shaped event -> the
configured workflow with the real workers -> renditions in the output bucket (decoded). Objects in
the output bucket, outside the input prefix or without an image suffix start nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from imgpipe.local.engine import LocalAws
from lambdas.core.keys import MANIFEST_NAME

pytestmark = pytest.mark.slow

GUARD_SECONDS = 120  # a hang guard for the wait, not a performance threshold
SOURCE_SIZE = (800, 600)
FORMATS = {"webp": "WEBP", "jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF"}


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws(time_scale=0.0) as engine:
        yield engine


def _png(size: tuple[int, int] = SOURCE_SIZE) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((30, 160, 60), (0, 0, size[0] // 3, size[1] // 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _all_executions(aws: LocalAws) -> set[str]:
    arns: set[str] = set()
    for machine in aws.deployment.state_machine_arns.values():
        for page in aws.sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
            arns.update(execution["executionArn"] for execution in page["executions"])
    return arns


def _expected_size(source: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """Fit inside the box, aspect kept, never enlarged (the workers' defaults)."""
    scale = min(1.0, box[0] / source[0], box[1] / source[1])
    return round(source[0] * scale), round(source[1] * scale)


def test_an_upload_under_the_prefix_runs_the_trigger_workflow_and_publishes_every_rendition(
    aws: LocalAws,
) -> None:
    key = f"{aws.config.inputPrefix}cats/tabby.png"
    body = _png()
    before = len(aws.trigger_deliveries)
    put = aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=body)

    deliveries = aws.trigger_deliveries[before:]
    assert len(deliveries) == 1
    delivery = deliveries[0]
    assert delivery.matched
    assert delivery.error is None, delivery.error
    assert delivery.execution_arn is not None
    event = delivery.event
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["detail"]["bucket"]["name"] == aws.deployment.input_bucket
    assert event["detail"]["object"]["key"] == key
    assert event["detail"]["object"]["size"] == len(body)
    trigger_arn = aws.deployment.state_machine_arns[aws.config.triggerWorkflow]
    assert delivery.execution_arn.startswith(trigger_arn.replace(":stateMachine:", ":execution:") + ":")

    described = aws.wait(delivery.execution_arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    workflow_input = json.loads(described["input"])
    etag = put["ETag"].strip('"')
    assert workflow_input == {  # the event form: exactly the version the event announced
        "fileLocation": f"s3://{aws.deployment.input_bucket}/{key}?versionId={put['VersionId']}"
        f"&etag={etag}&size={len(body)}",
        **aws.config.defaultRecipe.model_dump(mode="json"),
        "sourceEvent": {
            "bucket": aws.deployment.input_bucket,
            "key": key,
            "versionId": event["detail"]["object"].get("version-id", ""),
            "sequencer": event["detail"]["object"]["sequencer"],
        },
    }

    listed = aws.s3.list_objects_v2(Bucket=aws.deployment.output_bucket, Prefix=aws.config.outputPrefix)
    keys = sorted(obj["Key"] for obj in listed.get("Contents", []))
    # a manifest beside the renditions when the trigger's recipe asks for one (test_manifest.py);
    # the shipped cdk.json does not (`writeManifest: false`: one PUT less per upload)
    manifests = [key for key in keys if key.endswith(f"/{MANIFEST_NAME}")]
    wanted = (aws.config.defaultRecipe.model_extra or {}).get("writeManifest", True)
    assert len(manifests) == (1 if wanted else 0)
    keys = [key for key in keys if key not in manifests]
    recipe = aws.config.defaultRecipe
    expected = sorted(
        (FORMATS[fmt], _expected_size(SOURCE_SIZE, (size.width, size.height)))
        for fmt in recipe.outputFormats
        for size in recipe.outputSizes
    )
    seen = []
    for rendition_key in keys:
        head = aws.s3.head_object(Bucket=aws.deployment.output_bucket, Key=rendition_key)
        data = aws.s3.get_object(Bucket=aws.deployment.output_bucket, Key=rendition_key)["Body"].read()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.format is not None
            seen.append((image.format, image.size))
            assert head["ContentType"] == Image.MIME[image.format]
    assert sorted(seen) == expected
    # the source is never modified
    source = aws.s3.get_object(Bucket=aws.deployment.input_bucket, Key=key)["Body"].read()
    assert source == body


@pytest.mark.parametrize(
    ("where", "key"),
    [
        ("output bucket", "uploads/again.png"),
        ("output bucket, rendition prefix", "renditions/tabby/0123456789abcdef/300x300.webp"),
        ("input bucket, outside the prefix", "elsewhere/tabby.png"),
        ("input bucket, root", "tabby.png"),
        ("input bucket, the local-run prefix", "local-runs/0123456789abcdef/tabby.png"),
    ],
)
def test_objects_outside_the_trigger_start_nothing(aws: LocalAws, where: str, key: str) -> None:
    bucket = aws.deployment.output_bucket if where.startswith("output") else aws.deployment.input_bucket
    executions_before = _all_executions(aws)
    deliveries_before = len(aws.trigger_deliveries)
    aws.s3.put_object(Bucket=bucket, Key=key, Body=_png((64, 48)))
    new_deliveries = aws.trigger_deliveries[deliveries_before:]
    assert all(not delivery.matched for delivery in new_deliveries)
    assert all(delivery.execution_arn is None for delivery in new_deliveries)
    if bucket == aws.deployment.output_bucket:
        assert new_deliveries == []  # the output bucket does not even announce its objects
    assert _all_executions(aws) == executions_before


def test_a_non_image_under_the_prefix_ends_skipped_without_rendering(aws: LocalAws) -> None:
    """The rule matches the prefix only (one matcher per field); the envelope checks the suffix."""
    before = len(aws.trigger_deliveries)
    aws.s3.put_object(
        Bucket=aws.deployment.input_bucket, Key=f"{aws.config.inputPrefix}notes.txt", Body=b"hi"
    )
    (delivery,) = aws.trigger_deliveries[before:]
    assert delivery.matched
    assert delivery.execution_arn is not None
    described = aws.wait(delivery.execution_arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["notAnImage"]
    history = aws.history(delivery.execution_arn)
    assert not [e for e in history if e["type"] == "TaskScheduled"]  # no claim, no worker


def test_a_duplicate_delivery_of_one_event_renders_once(aws: LocalAws) -> None:
    """EventBridge delivers at least once and names no execution: each delivery starts one, and the
    envelope's claim ends every duplicate early as SUCCEEDED."""
    key = f"{aws.config.inputPrefix}dup.png"
    before = len(aws.trigger_deliveries)
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=_png((120, 90)))
    first = aws.trigger_deliveries[before]
    assert first.execution_arn is not None
    described: dict[str, Any] = aws.wait(first.execution_arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    (late,) = aws.deliver_event(first.event)
    assert late.execution_arn not in (None, first.execution_arn)
    duplicate = aws.wait(late.execution_arn, timeout_seconds=GUARD_SECONDS)
    assert duplicate["status"] == "SUCCEEDED"
    assert json.loads(duplicate["output"])["duplicate"] is True


def test_a_reupload_of_the_same_key_runs_again(aws: LocalAws) -> None:
    key = f"{aws.config.inputPrefix}twice.png"
    arns = []
    for _ in range(2):
        before = len(aws.trigger_deliveries)
        aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=_png((100, 80)))
        arn = aws.trigger_deliveries[before].execution_arn
        assert arn is not None
        assert aws.wait(arn, timeout_seconds=GUARD_SECONDS)["status"] == "SUCCEEDED"
        arns.append(arn)
    assert arns[0] != arns[1]
