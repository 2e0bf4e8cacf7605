"""The trigger description: pattern, transformer, event shape and execution names."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from imgpipe import trigger
from imgpipe.config import DeploymentConfig

BUCKET = "imgpipe-input-local"


def _event(key: str, bucket: str = BUCKET, sequencer: str = "0000000000000001") -> dict:
    return trigger.object_created_event(
        bucket=bucket, key=key, size=10, etag='"abc"', sequencer=sequencer, version_id="v1"
    )


@pytest.fixture
def config() -> DeploymentConfig:
    return DeploymentConfig.from_cdk_json()


@pytest.mark.parametrize(
    ("key", "bucket", "expected"),
    [
        ("uploads/cat.jpg", BUCKET, True),
        ("uploads/deep/IMG_0001.JPG", BUCKET, True),
        ("uploads/photo.webp", BUCKET, True),
        ("uploads/notes.txt", BUCKET, False),
        ("renditions/cat.jpg", BUCKET, False),
        ("cat.jpg", BUCKET, False),
        ("uploads/cat.jpg", "imgpipe-output-local", False),
    ],
)
def test_pattern_matches_only_images_under_the_prefix_of_the_input_bucket(
    config: DeploymentConfig, key: str, bucket: str, expected: bool
) -> None:
    pattern = trigger.event_pattern(config, BUCKET)
    event = _event(key, bucket)
    assert trigger.matches(pattern, event) is expected
    # moto's EventBridge matcher (a second, independent implementation) agrees
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is expected  # type: ignore[arg-type]


def test_event_has_the_documented_s3_eventbridge_shape() -> None:
    event = _event("uploads/my photo+1.png")
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["resources"] == [f"arn:aws:s3:::{BUCKET}"]
    obj = event["detail"]["object"]
    assert obj == {
        "key": "uploads/my+photo%2B1.png",
        "size": 10,
        "etag": "abc",
        "version-id": "v1",
        "sequencer": "0000000000000001",
    }
    assert event["detail"]["bucket"] == {"name": BUCKET}
    assert event["detail"]["reason"] == "PutObject"


def test_transformer_builds_the_dynamic_fork_input_with_the_default_recipe(config: DeploymentConfig) -> None:
    rendered = trigger.apply_input_transformer(trigger.input_transformer(config), _event("uploads/cat.jpg"))
    workflow_input = json.loads(rendered)
    assert workflow_input == {
        "fileLocation": f"s3://{BUCKET}/uploads/cat.jpg?versionId=v1&etag=abc&size=10",
        **config.defaultRecipe.model_dump(mode="json"),
    }


def test_transformer_escapes_values_inside_strings() -> None:
    transformer = {"InputPathsMap": {"k": "$.detail.object.key"}, "InputTemplate": '{"a": "x/<k>", "b": <k>}'}
    event = _event("uploads/a.jpg")
    event["detail"]["object"]["key"] = 'we"ird'
    assert json.loads(trigger.apply_input_transformer(transformer, event)) == {"a": 'x/we"ird', "b": 'we"ird'}


def test_execution_name_is_stable_per_event_and_new_per_write() -> None:
    first = trigger.execution_name(_event("uploads/cat.jpg"))
    assert first == trigger.execution_name(_event("uploads/cat.jpg"))  # a duplicate delivery
    assert first != trigger.execution_name(_event("uploads/cat.jpg", sequencer="0000000000000002"))
    long_name = trigger.execution_name(_event("uploads/" + "x" * 300 + " é.jpg"))
    assert len(long_name) <= 80
    assert all(ch.isalnum() or ch in "-_" for ch in long_name)


def test_unknown_operator_is_refused_not_matched() -> None:
    with pytest.raises(trigger.TriggerError, match="numeric"):
        trigger.matches({"detail": {"object": {"size": [{"numeric": [">", 1]}]}}}, _event("uploads/a.jpg"))


def test_event_without_sequencer_names_the_field() -> None:
    event = _event("uploads/a.jpg")
    del event["detail"]["object"]["sequencer"]
    with pytest.raises(trigger.TriggerError, match="sequencer"):
        trigger.execution_name(event)


@pytest.mark.parametrize(
    ("excluded", "key", "expected"),
    [
        ({"prefix": "uploads/private/"}, "uploads/private/a.jpg", False),
        ({"prefix": "uploads/private/"}, "uploads/public/a.jpg", True),
        ({"prefix": ["uploads/tmp/", "uploads/private/"]}, "uploads/tmp/a.jpg", False),
        ({"suffix": ".tmp"}, "uploads/a.tmp", False),
        ({"suffix": ".tmp"}, "uploads/a.jpg", True),
        ({"equals-ignore-case": "UPLOADS/A.JPG"}, "uploads/a.jpg", False),
        ({"equals-ignore-case": ["x", "y"]}, "uploads/a.jpg", True),
    ],
)
def test_anything_but_a_prefix_suffix_or_case_insensitive_value(
    excluded: dict, key: str, expected: bool
) -> None:
    pattern = {"detail": {"object": {"key": [{"anything-but": excluded}]}}}
    event = _event(key)
    assert trigger.matches(pattern, event) is expected
    # moto's EventBridge matcher agrees
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is expected  # type: ignore[arg-type]


def test_anything_but_of_a_number_with_a_string_prefix_matches() -> None:
    pattern = {"detail": {"object": {"size": [{"anything-but": {"prefix": "1"}}]}}}
    assert trigger.matches(pattern, _event("uploads/a.jpg")) is True  # size 10 is a number, not "1..."


@pytest.mark.parametrize(
    ("excluded", "message"),
    [
        ({"numeric": [">", 1]}, "anything-but takes .*numeric"),
        ({"wildcard": "uploads/*"}, "anything-but takes .*wildcard"),
        ({"prefix": "a", "suffix": "b"}, "exactly one of"),
        ({}, "exactly one of"),
        ({"prefix": 5}, "anything-but prefix needs a string"),
        ({"prefix": []}, "anything-but prefix needs a string"),
        ({"suffix": {"equals-ignore-case": ".JPG"}}, "anything-but suffix needs a string"),
    ],
)
def test_anything_but_with_an_unimplemented_nested_operand_is_refused(excluded: dict, message: str) -> None:
    pattern = {"detail": {"object": {"key": [{"anything-but": excluded}]}}}
    for key in ("uploads/a.jpg", "other/b.png"):  # refused whatever the event, never matched
        with pytest.raises(trigger.TriggerError, match=message):
            trigger.matches(pattern, _event(key))
