"""Duplicates: EventBridge delivers events at least once, and clients retry StartExecution.

Two layers make duplicates harmless (docs/reliability.md): every delivery starts an execution, as
on AWS, and the envelope's first state claims the S3 write (bucket, key, version id, sequencer) in
DynamoDB with a conditional put, so a redelivered event ends SUCCEEDED as a duplicate without
rendering (imgpipe.envelope); and rendition keys are content-addressed (source identity +
normalised recipe), so a run that does happen twice (two manual starts) rewrites the same objects.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from imgpipe import envelope, trigger
from imgpipe.local.engine import LocalAws, TriggerDelivery
from lambdas.core.keys import MANIFEST_NAME
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


def _renditions_only(outputs: dict[str, bytes]) -> dict[str, bytes]:
    """The objects that are renditions: the render-all workflow also writes one manifest per source."""
    return {key: data for key, data in outputs.items() if not key.endswith(f"/{MANIFEST_NAME}")}


def _assert_renditions(outputs: dict[str, bytes], count: int) -> None:
    renditions = _renditions_only(outputs)
    manifests = [json.loads(data) for key, data in outputs.items() if key not in renditions]
    assert len(renditions) == count
    assert len(manifests) <= 1  # one source: at most its one manifest, listing every rendition
    for manifest in manifests:
        assert sorted(entry["key"] for entry in manifest["renditions"]) == sorted(renditions)
    for key, data in renditions.items():
        image = decode(data)
        assert image.format == {"webp": "WEBP", "jpg": "JPEG"}[key.rsplit(".", 1)[-1]]


def _rendition_runs(aws: LocalAws) -> list[dict[str, Any]]:
    """Trigger executions that rendered (neither a duplicate nor a skipped non-image)."""
    runs = []
    for execution in _trigger_executions(aws):
        described = aws.sfn.describe_execution(executionArn=execution["executionArn"])
        output = json.loads(described.get("output") or "{}")
        if not (isinstance(output, dict) and (output.get("duplicate") or output.get("notAnImage"))):
            runs.append(described)
    return runs


def _claims(aws: LocalAws) -> list[dict[str, Any]]:
    assert aws.claim_table is not None
    items: list[dict[str, Any]] = aws.client("dynamodb").scan(TableName=aws.claim_table)["Items"]
    return items


def test_the_same_s3_event_delivered_twice_runs_once(triggered: LocalAws) -> None:
    aws = triggered
    first = _upload(aws, f"{aws.config.inputPrefix}dup/photo.jpg", SOURCE)
    outputs = objects(aws, aws.deployment.output_bucket, manifests=True)
    _assert_renditions(outputs, DEFAULT_RENDITIONS)

    redelivered = aws.deliver_event(copy.deepcopy(first.event))
    # At-least-once delivery may also give the duplicate a new event id and time.
    retried = copy.deepcopy(first.event) | {"id": str(uuid.uuid4()), "time": "2030-01-01T00:00:00Z"}
    redelivered += aws.deliver_event(retried)

    # As on AWS, each delivery starts an execution; each ends SUCCEEDED as a duplicate.
    assert all(d.execution_arn and d.error is None for d in redelivered), redelivered
    for delivery in redelivered:
        assert delivery.execution_arn is not None
        duplicate = finished(aws, delivery.execution_arn)
        assert duplicate.status == "SUCCEEDED", duplicate.error_message()
        assert duplicate.output["duplicate"] is True
        assert duplicate.lambda_calls("") == []  # not one worker invoked
    assert len(_trigger_executions(aws)) == 3
    assert len(_rendition_runs(aws)) == 1
    (claim,) = _claims(aws)
    assert claim["status"]["S"] == envelope.STATUS_DONE
    assert claim["executionArn"]["S"] == first.execution_arn
    assert objects(aws, aws.deployment.output_bucket, manifests=True) == outputs


def test_duplicates_delivered_together_start_one_rendition_run(triggered: LocalAws) -> None:
    """Deliveries that race (the first has not claimed yet when the second starts): one claim wins."""
    aws = triggered
    key = f"{aws.config.inputPrefix}race/photo.jpg"
    before = len(aws.trigger_deliveries)
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=SOURCE)
    upload = aws.trigger_deliveries[before]
    copies = [aws.deliver_event(copy.deepcopy(upload.event))[0] for _ in range(3)]
    arns = [upload.execution_arn] + [d.execution_arn for d in copies]
    results = [finished(aws, arn) for arn in arns if arn]
    assert len(results) == 4
    assert all(r.status == "SUCCEEDED" for r in results), [r.error_message() for r in results]
    assert sum(1 for r in results if not r.output.get("duplicate")) == 1
    assert len(_rendition_runs(aws)) == 1
    _assert_renditions(objects(aws, aws.deployment.output_bucket, manifests=True), DEFAULT_RENDITIONS)


def test_claims_identify_one_write_of_one_object() -> None:
    """The deduplication key: same bucket, key, version and sequencer -> same claim; else different."""
    base = ("in", "uploads/a+b.jpg", "v1", "0001")
    assert envelope.claim_id(*base) == envelope.claim_id(*base)
    for index, value in ((0, "other"), (1, "uploads/b.jpg"), (2, "v2"), (3, "0002")):
        other = list(base)
        other[index] = value
        assert envelope.claim_id(*other) != envelope.claim_id(*base), index


def test_the_claim_key_the_state_machine_writes_is_the_documented_one(triggered: LocalAws) -> None:
    aws = triggered
    delivery = _upload(aws, f"{aws.config.inputPrefix}claimed/a b.jpg", SOURCE)
    obj = delivery.event["detail"]["object"]
    (claim,) = _claims(aws)
    bucket = aws.deployment.input_bucket
    assert claim["claimId"]["S"] == envelope.claim_id(
        bucket, obj["key"], obj.get("version-id", ""), obj["sequencer"]
    )
    assert int(claim[envelope.TTL_ATTRIBUTE]["N"]) in envelope.claim_expiry_table()


def test_a_manual_start_of_the_transformed_input_is_a_duplicate_too(triggered: LocalAws) -> None:
    """Replaying the exact input EventBridge built (it carries sourceEvent) claims the same write."""
    aws = triggered
    first = _upload(aws, f"{aws.config.inputPrefix}aws-dup/photo.jpg", SOURCE)
    outputs = objects(aws, aws.deployment.output_bucket, manifests=True)
    workflow_input = json.loads(
        trigger.apply_input_transformer(trigger.input_transformer(aws.config), first.event)
    )
    second = run(aws, aws.config.triggerWorkflow, workflow_input, name="aws-style-duplicate")
    assert second.status == "SUCCEEDED", second.error_message()
    assert second.output["duplicate"] is True
    assert len(_rendition_runs(aws)) == 1
    assert objects(aws, aws.deployment.output_bucket, manifests=True) == outputs
    _assert_renditions(outputs, DEFAULT_RENDITIONS)


def test_reupload_of_identical_bytes_reruns_but_adds_no_objects(triggered: LocalAws) -> None:
    """A new write is a new event (new sequencer): it runs, and rewrites the same renditions."""
    aws = triggered
    key = f"{aws.config.inputPrefix}again/photo.jpg"
    first = _upload(aws, key, SOURCE)
    outputs = objects(aws, aws.deployment.output_bucket, manifests=True)
    second = _upload(aws, key, SOURCE)
    assert second.execution_arn != first.execution_arn
    assert objects(aws, aws.deployment.output_bucket, manifests=True) == outputs
    _assert_renditions(outputs, DEFAULT_RENDITIONS)


def test_reupload_of_new_bytes_gets_new_renditions_and_keeps_the_old(triggered: LocalAws) -> None:
    """Documented limitation: renditions of a replaced source are not deleted (keys are immutable)."""
    aws = triggered
    key = f"{aws.config.inputPrefix}replaced/photo.jpg"
    _upload(aws, key, SOURCE)
    old = objects(aws, aws.deployment.output_bucket, manifests=True)
    _upload(aws, key, BY_NAME["exif-5.jpg"].data)
    now = objects(aws, aws.deployment.output_bucket, manifests=True)
    assert len(_renditions_only(now)) == 2 * DEFAULT_RENDITIONS
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
        after_first = objects(aws, aws.deployment.output_bucket, manifests=True)
        second = run(aws, MULTI_IMAGE_WORKFLOW, workflow_input, name="twice-2")
        after_second = objects(aws, aws.deployment.output_bucket, manifests=True)

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
