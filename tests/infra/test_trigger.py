"""The upload rule: which events start the workflow, with what input, and that renditions never do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imgpipe import trigger
from imgpipe.config import WORKER_TASKS

pytestmark = pytest.mark.slow

INPUT, OUTPUT = "imgpipe-input-bucket", "imgpipe-output-bucket"


def _rule(synth: Any) -> dict[str, Any]:
    (rule,) = synth.of_type("AWS::Events::Rule").values()
    return rule["Properties"]


def _pattern_with(synth: Any, input_bucket: str) -> dict[str, Any]:
    """The deployed pattern with the input bucket's Ref replaced by a concrete name."""
    ref = json.dumps({"Ref": synth.logical_id(synth.stack.storage.input_bucket)})
    return json.loads(json.dumps(_rule(synth)["EventPattern"]).replace(ref, json.dumps(input_bucket)))


def _event(bucket: str, key: str) -> dict[str, Any]:
    return trigger.object_created_event(bucket=bucket, key=key, size=1234, etag="abc", sequencer="0A1")


def _both_match(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """The local matcher (strict check + moto's EventBridge matcher) on the deployed pattern."""
    return trigger.matches(pattern, event)


def test_rule_is_the_shared_description(synth):
    assert _pattern_with(synth, INPUT) == trigger.event_pattern(synth.config, INPUT)
    (target,) = _rule(synth)["Targets"]
    assert target["InputTransformer"] == trigger.input_transformer(synth.config)
    trigger_machine = synth.stack.workflows.state_machines[synth.config.triggerWorkflow]
    assert target["Arn"] == {"Ref": synth.logical_id(trigger_machine)}


@pytest.mark.parametrize(
    "key", ["uploads/cat.jpg", "uploads/a/b/IMG_0001.JPG", "uploads/x.webp", "uploads/y.PNG"]
)
def test_uploads_of_images_start_the_workflow(synth, key):
    assert _both_match(_pattern_with(synth, INPUT), _event(INPUT, key))


@pytest.mark.parametrize("key", ["other/cat.jpg", "cat.jpg", "cat.png", "renditions/uploads/cat.jpg"])
def test_objects_outside_the_prefix_do_not(synth, key):
    assert not _both_match(_pattern_with(synth, INPUT), _event(INPUT, key))


def test_the_deployed_pattern_has_one_matcher_per_field(synth):
    """EventBridge cannot AND two matchers on one field: the key carries only the prefix, and the
    suffix is the envelope's check (tests/local/test_envelope.py runs both)."""
    pattern = _pattern_with(synth, INPUT)
    trigger.check_pattern(pattern)
    assert "$or" not in pattern
    assert pattern["detail"]["object"]["key"] == [{"prefix": synth.config.inputPrefix}]


def test_nothing_the_workers_write_can_match(synth):
    """Renditions go to the output bucket under outputPrefix; no rule pattern matches any of them,
    whatever the key looks like (even one that mimics an upload)."""
    pattern = _pattern_with(synth, INPUT)
    prefix = synth.config.outputPrefix
    keys = [f"{prefix}cat/1200x1200.webp", f"{prefix}uploads/cat.jpg", "uploads/cat.jpg"]
    for key in keys:
        assert not _both_match(pattern, _event(OUTPUT, key))
    # And the output bucket does not publish to EventBridge at all.
    notified = [
        n["Properties"]["BucketName"] for n in synth.of_type("Custom::S3BucketNotifications").values()
    ]
    assert {"Ref": synth.logical_id(synth.stack.storage.output_bucket)} not in notified
    # Workers may only write to the output bucket.
    input_arn = synth.logical_id(synth.stack.storage.input_bucket)
    for task in WORKER_TASKS:
        role_id = synth.logical_id(synth.stack.workers.functions[task].role)
        for policy in synth.of_type("AWS::IAM::Policy").values():
            if {"Ref": role_id} not in policy["Properties"]["Roles"]:
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if "s3:PutObject" in json.dumps(statement["Action"]):
                    assert input_arn not in json.dumps(statement["Resource"])


def test_input_transformer_builds_the_seeds_input(synth):
    (target,) = _rule(synth)["Targets"]
    rendered = json.loads(
        trigger.apply_input_transformer(target["InputTransformer"], _event(INPUT, "uploads/cat.jpg"))
    )
    recipe = synth.config.defaultRecipe.model_dump(mode="json")
    assert rendered == {
        "fileLocation": f"s3://{INPUT}/uploads/cat.jpg?versionId=&etag=abc&size=1234",
        **recipe,
        "sourceEvent": {"bucket": INPUT, "key": "uploads/cat.jpg", "versionId": "", "sequencer": "0A1"},
    }
    assert rendered["outputFormats"]
    assert rendered["outputSizes"]


def test_dead_letter_queue_and_retry_policy(synth):
    (target,) = _rule(synth)["Targets"]
    dlq_id = synth.logical_id(synth.stack.trigger.dead_letter_queue)
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert 60 <= target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 86400
    queue = synth.resources[dlq_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    statements = synth.queue_policy_statements(synth.stack.trigger.dead_letter_queue)
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    assert any(
        s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"} for s in statements
    )
