"""The trigger envelope (imgpipe.envelope) run by moto: skip, claim, duplicate, failure record, retake."""

from __future__ import annotations

import copy
import io
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from imgpipe import envelope
from imgpipe.config import DeploymentConfig
from imgpipe.local.engine import LocalAws, TriggerDelivery

GUARD_SECONDS = 120


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module", params=["STANDARD", "EXPRESS"])
def aws(request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    # the shipped deployment runs its trigger workflow (image_renditions) as Express; the same
    # workflow as Standard covers a deployment that opts out of Express
    config = DeploymentConfig.from_cdk_json()
    assert config.deployed_workflow_type(config.triggerWorkflow, express_compatible=True) == "EXPRESS"
    if request.param == "STANDARD":
        config = config.model_copy(update={"workflowType": "STANDARD", "workflowTypes": {}})
    with LocalAws(config, time_scale=0.0) as local:
        yield local


def _upload(aws: LocalAws, key: str, body: bytes) -> TriggerDelivery:
    before = len(aws.trigger_deliveries)
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=body)
    (delivery,) = aws.trigger_deliveries[before:]
    return delivery


def _wait(aws: LocalAws, arn: str | None) -> dict[str, Any]:
    assert arn is not None
    described: dict[str, Any] = aws.wait(arn, timeout_seconds=GUARD_SECONDS)
    return described


def _claim(aws: LocalAws, event: dict[str, Any]) -> dict[str, Any]:
    obj = event["detail"]["object"]
    key = envelope.claim_id(
        event["detail"]["bucket"]["name"], obj["key"], obj.get("version-id", ""), obj["sequencer"]
    )
    item: dict[str, Any] = aws.client("dynamodb").get_item(
        TableName=aws.claim_table, Key={envelope.CLAIM_KEY: {"S": key}}, ConsistentRead=True
    )["Item"]
    return item


def _failed_sources(aws: LocalAws) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws.failed_sources_queue_url, MaxNumberOfMessages=10)
    bodies = []
    for message in messages.get("Messages", []):
        bodies.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=aws.failed_sources_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _assert_run_error(described: dict[str, Any], record: dict[str, Any]) -> None:
    """The run fails with the workflow's error, or WorkflowFailed when that was a States.* name."""
    if record["error"].startswith("States."):
        assert described["error"] == envelope.WORKFLOW_FAILED_ERROR
        assert described["cause"] == f"{record['error']}: {record['cause']}"
    else:
        assert (described["error"], described["cause"]) == (record["error"], record["cause"])


def test_uploads_outside_the_prefix_start_no_run(aws: LocalAws) -> None:
    for key in ("other/cat.jpg", "cat.png"):
        delivery = _upload(aws, key, _jpeg())
        assert not delivery.matched, key
        assert delivery.execution_arn is None


@pytest.mark.parametrize("key", ["uploads/UPPER.JPG", "uploads/mixed.JpEg", "uploads/a b.webp"])
def test_images_in_any_letter_case_are_claimed_and_rendered(aws: LocalAws, key: str) -> None:
    delivery = _upload(aws, key, _jpeg())
    described = _wait(aws, delivery.execution_arn)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert "duplicate" not in output
    assert "notAnImage" not in output
    assert _claim(aws, delivery.event)["status"]["S"] == envelope.STATUS_DONE


def test_a_redelivered_event_ends_succeeded_as_a_duplicate_without_rendering(aws: LocalAws) -> None:
    delivery = _upload(aws, "uploads/once.jpg", _jpeg())
    assert _wait(aws, delivery.execution_arn)["status"] == "SUCCEEDED"
    (again,) = aws.deliver_event(copy.deepcopy(delivery.event))
    duplicate = _wait(aws, again.execution_arn)
    assert duplicate["status"] == "SUCCEEDED"
    assert json.loads(duplicate["output"])["duplicate"] is True
    assert _claim(aws, delivery.event)["executionArn"]["S"] == delivery.execution_arn
    assert again.execution_arn is not None
    history = aws.history(again.execution_arn)
    scheduled = [
        e["taskScheduledEventDetails"]["resourceType"] for e in history if e["type"] == "TaskScheduled"
    ]
    assert "dynamodb" in scheduled  # the claim ran ...
    assert "lambda" not in scheduled  # ... and no worker did


def test_a_failed_source_is_recorded_the_run_fails_and_a_redelivery_retakes_it(aws: LocalAws) -> None:
    _failed_sources(aws)  # start from an empty queue
    delivery = _upload(aws, "uploads/broken.jpg", b"this is not a JPEG")
    failed = _wait(aws, delivery.execution_arn)
    assert failed["status"] == "FAILED"
    claim = _claim(aws, delivery.event)
    assert claim["status"]["S"] == envelope.STATUS_FAILED
    (record,) = _failed_sources(aws)
    assert record["executionArn"] == delivery.execution_arn
    assert record["error"] == claim["error"]["S"]
    assert record["cause"] == claim["cause"]["S"]
    assert "UnsupportedImageError" in record["error"] + record["cause"]
    _assert_run_error(failed, record)
    assert record["input"]["fileLocation"].split("?", 1)[0].endswith("/uploads/broken.jpg")

    # A FAILED claim is not a duplicate: a redelivery (or a manual start with that input) retakes it.
    (again,) = aws.deliver_event(copy.deepcopy(delivery.event))
    retried = _wait(aws, again.execution_arn)
    assert retried["status"] == "FAILED"  # the bytes are still broken, so it fails again ...
    assert _claim(aws, delivery.event)["executionArn"]["S"] == again.execution_arn  # ... as its own run
    assert len(_failed_sources(aws)) == 1


def test_a_manual_start_skips_the_claim_and_returns_the_workflow_output(aws: LocalAws) -> None:
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key="manual/cat.jpg", Body=_jpeg())
    items_before = aws.client("dynamodb").scan(TableName=aws.claim_table)["Count"]
    recipe = aws.config.defaultRecipe.model_dump(mode="json")
    arn = aws.start_execution(
        aws.config.triggerWorkflow,
        {"fileLocation": f"s3://{aws.deployment.input_bucket}/manual/cat.jpg", **recipe},
    )
    described = _wait(aws, arn)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["rendered"] == len(aws.config.defaultRecipe.outputFormats) * len(
        aws.config.defaultRecipe.outputSizes
    )
    assert aws.client("dynamodb").scan(TableName=aws.claim_table)["Count"] == items_before


def test_a_failed_manual_start_is_recorded_in_the_queue(aws: LocalAws) -> None:
    _failed_sources(aws)
    recipe = aws.config.defaultRecipe.model_dump(mode="json")
    location = f"s3://{aws.deployment.input_bucket}/manual/missing.jpg"
    described = _wait(
        aws, aws.start_execution(aws.config.triggerWorkflow, {"fileLocation": location, **recipe})
    )
    assert described["status"] == "FAILED"
    (record,) = _failed_sources(aws)
    assert record["input"]["fileLocation"] == location
    assert "SourceNotFoundError" in record["error"] + record["cause"]
    _assert_run_error(described, record)


def test_the_translated_workflow_is_the_envelopes_only_branch_unchanged(aws: LocalAws) -> None:
    from statemachines.project import translate_project

    translated = translate_project()[aws.config.triggerWorkflow]
    wrapped = envelope.wrap(translated.asl, suffixes=aws.config.inputSuffixes)
    (branch,) = wrapped["States"]["trigger: run workflow"]["Branches"]
    assert branch["States"] == translated.asl["States"]
    assert branch["StartAt"] == translated.asl["StartAt"]
    # one namespace for the whole machine: no envelope state shares a name with a workflow state
    assert not set(wrapped["States"]) & envelope.state_names(translated.asl["States"])


def test_suffix_patterns_cover_every_letter_case() -> None:
    patterns = envelope.suffix_patterns([".jpg", ".JPEG", ".a*b c"])
    assert len(patterns) == 2**3 + 2**4 + 2**3
    assert {"*.jpg", "*.JPG", "*.jPg", "*.jpeg", "*.JpEg"} <= set(patterns)
    # Matched against the key as S3 sends it: URL-encoded, escapes kept upper case.
    assert {"*.a%2Ab+c", "*.A%2AB+C"} <= set(patterns)


@pytest.mark.parametrize(
    ("asl", "message"),
    [
        ({"States": {}}, "StartAt and States"),
        ({"StartAt": "a", "States": {}, "QueryLanguage": "JSONata"}, "QueryLanguage"),
        (
            {
                "StartAt": "p",
                "States": {
                    "p": {
                        "Type": "Parallel",
                        "Branches": [
                            {"StartAt": "trigger: claim event", "States": {"trigger: claim event": {}}}
                        ],
                    }
                },
            },
            "names the envelope uses itself: \\['trigger: claim event'\\]",
        ),
    ],
)
def test_what_the_envelope_cannot_wrap_is_refused(asl: dict[str, Any], message: str) -> None:
    with pytest.raises(envelope.EnvelopeError, match=message):
        envelope.wrap(asl, suffixes=[".jpg"])


def test_the_claim_expiry_is_weeks_after_the_end_of_the_claims_year() -> None:
    table = envelope.claim_expiry_table()
    assert len(table) == envelope.LAST_CLAIM_YEAR - envelope.FIRST_CLAIM_YEAR + 1
    # 2026 claims expire on 2027-01-31 00:00 UTC
    assert table[2026 - envelope.FIRST_CLAIM_YEAR] == 1801353600
    assert all(later > earlier for earlier, later in itertools.pairwise(table))


def test_the_envelope_adds_its_bounded_worst_case_to_the_deployed_workflow() -> None:
    from statemachines.project import translate_project

    bounded = "image_convert_resize"  # two Lambda tasks: a static worst case
    config = DeploymentConfig.from_cdk_json().model_copy(update={"triggerWorkflow": bounded})
    translated = translate_project()
    deployed = envelope.for_deployment(translated, config)[bounded]
    base = translated[bounded].worst_case_seconds
    assert base is not None
    # 3 attempts x 2 s + back-off 1 s + 2 s, for claim, mark failed and record failed source
    assert envelope.service_task_worst_case_seconds() == 9
    assert deployed.worst_case_seconds == base + 3 * 9
    tasks = [state for state in deployed.asl["States"].values() if state["Type"] == "Task"]
    assert tasks
    assert all(task["TimeoutSeconds"] == envelope.SERVICE_TASK_TIMEOUT_SECONDS for task in tasks)
