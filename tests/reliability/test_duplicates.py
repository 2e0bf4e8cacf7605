"""Duplicates: S3 delivers events at least once, and clients retry StartExecution.

Two layers make duplicates harmless (docs/reliability.md): the trigger names each execution after
bucket, key, version id and sequencer (imgpipe.trigger.execution_name), so Step Functions refuses a
second execution for a redelivered event; and rendition keys are content-addressed (source identity
+ normalised recipe), so any execution that does run twice rewrites the same objects, byte for byte.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from imgpipe import trigger
from imgpipe.local.engine import LocalAws, TriggerDelivery
from tests.reliability.checks import decode
from tests.reliability.corpus import BY_NAME
from tests.reliability.pipeline import (
    MULTI_IMAGE_WORKFLOW,
    default_config,
    finished,
    local_pipeline,
    objects,
    run,
)

SOURCE = BY_NAME["exif-3.jpg"].data
# The default recipe (cdk.json / DeploymentConfig): webp and jpg at 1200 and 300 -> 4 renditions.
DEFAULT_RENDITIONS = 4


# The deployed trigger starts image_renditions (one render-all task, Express); a deployer may point
# it at image_multiple_convert_resize_upload (a sub-workflow per rendition) or at
# image_multiple_convert_resize (resize tasks only). All must dedup.
TRIGGER_WORKFLOWS = [
    "image_renditions",
    "image_multiple_convert_resize_upload",
    "image_multiple_convert_resize",
]


@pytest.fixture(params=TRIGGER_WORKFLOWS)
def triggered(request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    with local_pipeline(default_config(triggerWorkflow=request.param)) as aws:
        yield aws


def _trigger_executions(aws: LocalAws) -> list[dict[str, Any]]:
    arn = aws.state_machine_arn(aws.config.triggerWorkflow)
    executions: list[dict[str, Any]] = aws.sfn.list_executions(stateMachineArn=arn)["executions"]
    return executions


def _upload(aws: LocalAws, key: str, body: bytes) -> TriggerDelivery:
    before = len(aws.trigger_deliveries)
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=body)
    deliveries = aws.trigger_deliveries[before:]
    assert len(deliveries) == 1, deliveries
    delivery = deliveries[0]
    assert delivery.matched
    assert delivery.execution_arn, delivery.error
    assert finished(aws, delivery.execution_arn).status == "SUCCEEDED"
    return delivery


def _assert_renditions(outputs: dict[str, bytes], count: int) -> None:
    assert len(outputs) == count
    for key, data in outputs.items():
        image = decode(data)
        assert image.format == {"webp": "WEBP", "jpg": "JPEG"}[key.rsplit(".", 1)[-1]]


def test_the_same_s3_event_delivered_twice_runs_once(triggered: LocalAws) -> None:
    aws = triggered
    first = _upload(aws, f"{aws.config.inputPrefix}dup/photo.jpg", SOURCE)
    outputs = objects(aws, aws.deployment.output_bucket)
    _assert_renditions(outputs, DEFAULT_RENDITIONS)

    redelivered = aws.deliver_event(copy.deepcopy(first.event))
    # At-least-once delivery may also give the duplicate a new event id and time.
    retried = copy.deepcopy(first.event) | {"id": str(uuid.uuid4()), "time": "2030-01-01T00:00:00Z"}
    redelivered += aws.deliver_event(retried)

    assert [d.execution_arn for d in redelivered] == [None, None]
    assert all("ExecutionAlreadyExists" in (d.error or "") for d in redelivered), redelivered
    assert len(_trigger_executions(aws)) == 1
    assert objects(aws, aws.deployment.output_bucket) == outputs


def test_a_duplicate_that_runs_twice_as_on_aws_writes_one_set_of_identical_bytes(triggered: LocalAws) -> None:
    """On AWS the EventBridge target cannot name the execution, so a duplicate delivery does start a
    second execution: emulate that (same transformed input, two executions) and check the outputs."""
    aws = triggered
    first = _upload(aws, f"{aws.config.inputPrefix}aws-dup/photo.jpg", SOURCE)
    outputs = objects(aws, aws.deployment.output_bucket)
    workflow_input = json.loads(
        trigger.apply_input_transformer(trigger.input_transformer(aws.config), first.event)
    )
    second = run(aws, aws.config.triggerWorkflow, workflow_input, name="aws-style-duplicate")
    assert second.status == "SUCCEEDED", second.error_message()
    assert len(_trigger_executions(aws)) == 2
    assert objects(aws, aws.deployment.output_bucket) == outputs
    _assert_renditions(outputs, DEFAULT_RENDITIONS)


def test_execution_names_identify_one_write_of_one_object() -> None:
    """The deduplication key: same bucket, key, version and sequencer -> same name; else different."""
    base = trigger.object_created_event(
        bucket="in", key="uploads/a b.jpg", size=3, etag="e", sequencer="0001", version_id="v1"
    )
    duplicate = copy.deepcopy(base) | {"id": "another-delivery-id"}
    assert trigger.execution_name(duplicate) == trigger.execution_name(base)
    for field, value in (("sequencer", "0002"), ("version-id", "v2"), ("key", "uploads/b.jpg")):
        other = copy.deepcopy(base)
        other["detail"]["object"][field] = value
        assert trigger.execution_name(other) != trigger.execution_name(base), field
    name = trigger.execution_name(base)
    assert len(name) <= 80
    assert all(c.isalnum() or c in "-_" for c in name)


def test_reupload_of_identical_bytes_reruns_but_adds_no_objects(triggered: LocalAws) -> None:
    """A new write is a new event (new sequencer): it runs, and rewrites the same renditions."""
    aws = triggered
    key = f"{aws.config.inputPrefix}again/photo.jpg"
    first = _upload(aws, key, SOURCE)
    outputs = objects(aws, aws.deployment.output_bucket)
    second = _upload(aws, key, SOURCE)
    assert second.execution_arn != first.execution_arn
    assert objects(aws, aws.deployment.output_bucket) == outputs
    _assert_renditions(outputs, DEFAULT_RENDITIONS)


def test_reupload_of_new_bytes_gets_new_renditions_and_keeps_the_old(triggered: LocalAws) -> None:
    """Documented limitation: renditions of a replaced source are not deleted (keys are immutable)."""
    aws = triggered
    key = f"{aws.config.inputPrefix}replaced/photo.jpg"
    _upload(aws, key, SOURCE)
    old = objects(aws, aws.deployment.output_bucket)
    _upload(aws, key, BY_NAME["exif-5.jpg"].data)
    now = objects(aws, aws.deployment.output_bucket)
    assert len(now) == 2 * DEFAULT_RENDITIONS
    assert all(now[k] == v for k, v in old.items())


def test_the_same_execution_input_started_twice_writes_one_set_of_identical_bytes() -> None:
    with local_pipeline() as aws:
        aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key="direct/photo.jpg", Body=SOURCE)
        workflow_input = {
            "fileLocation": f"s3://{aws.deployment.input_bucket}/direct/photo.jpg",
            "outputFormats": ["webp", "jpg", "png"],
            "outputSizes": [{"width": 32, "height": 32}, {"width": 16, "height": 16}],
            "maintainAspectRatio": True,
        }
        first = run(aws, MULTI_IMAGE_WORKFLOW, workflow_input, name="twice-1")
        after_first = objects(aws, aws.deployment.output_bucket)
        second = run(aws, MULTI_IMAGE_WORKFLOW, workflow_input, name="twice-2")
        after_second = objects(aws, aws.deployment.output_bucket)

        assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
        assert len(after_first) == 6
        assert after_second == after_first  # same keys, identical bytes
        assert first.output == second.output


def test_starting_the_same_input_twice_without_a_name_starts_two_executions() -> None:
    """StartExecution without a name gets a fresh UUID name on AWS; moto's ASL backend named every
    unnamed execution 'None' (a second start failed) until imgpipe/local/moto_fixes.py."""
    with local_pipeline() as aws:
        aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key="direct/noname.jpg", Body=SOURCE)
        workflow_input = {
            "fileLocation": f"s3://{aws.deployment.input_bucket}/direct/noname.jpg",
            "outputFormats": ["webp"],
            "outputSizes": [{"width": 16, "height": 16}],
        }
        first = finished(aws, aws.start_execution(MULTI_IMAGE_WORKFLOW, workflow_input))
        second = finished(aws, aws.start_execution(MULTI_IMAGE_WORKFLOW, workflow_input))
        assert first.arn != second.arn
        assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
