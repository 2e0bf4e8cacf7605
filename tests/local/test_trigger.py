"""The trigger description: pattern (and its strict check), transformer and event shape."""

from __future__ import annotations

import json

import pytest

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
        ("uploads/notes.txt", BUCKET, True),  # the rule checks the prefix; the envelope the suffix
        ("renditions/cat.jpg", BUCKET, False),
        ("other/cat.jpg", BUCKET, False),
        ("cat.png", BUCKET, False),
        ("cat.jpg", BUCKET, False),
        ("uploads/cat.jpg", "imgpipe-output-local", False),
    ],
)
def test_rule_matches_only_the_prefix_of_the_input_bucket(
    config: DeploymentConfig, key: str, bucket: str, expected: bool
) -> None:
    pattern = trigger.event_pattern(config, BUCKET)
    assert trigger.matches(pattern, _event(key, bucket)) is expected


def test_rule_has_one_matcher_per_field(config: DeploymentConfig) -> None:
    pattern = trigger.event_pattern(config, BUCKET)
    assert "$or" not in json.dumps(pattern)
    assert pattern["detail"]["object"]["key"] == [{"prefix": "uploads/"}]
    trigger.check_pattern(pattern)


def test_a_prefix_is_matched_as_s3_sends_the_key() -> None:
    config = DeploymentConfig.from_cdk_json().model_copy(update={"inputPrefix": "my uploads/"})
    pattern = trigger.event_pattern(config, BUCKET)
    assert trigger.matches(pattern, _event("my uploads/a.jpg")) is True
    assert trigger.matches(pattern, _event("my+uploads/a.jpg")) is False


# The pattern the rule had: a prefix at the top level and suffixes inside $or on the same field.
# EventBridge keeps only the last matcher of a field (aws/event-ruler JsonRuleCompiler.writeRules),
# so on AWS it matched other/cat.jpg and cat.png at the bucket root.
ANDED_ON_ONE_FIELD = {
    "source": ["aws.s3"],
    "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"prefix": "uploads/"}]}},
    "$or": [
        {"detail": {"object": {"key": [{"suffix": {"equals-ignore-case": ".jpg"}}]}}},
        {"detail": {"object": {"key": [{"suffix": {"equals-ignore-case": ".png"}}]}}},
    ],
}


def _as_event_ruler_reads_it(pattern: dict, path: tuple[str, ...] = (), branches: list | None = None) -> list:
    """The branches aws/event-ruler's JsonRuleCompiler builds without strict mode: `$or` forks the
    branches, and a field written again replaces the earlier matcher (`rule.put(name, values)`)."""
    branches = [{}] if branches is None else branches
    for name, value in pattern.items():
        if name == "$or":
            forked = []
            for alternative in value:
                copies = [dict(branch) for branch in branches]
                _as_event_ruler_reads_it(alternative, path, copies)
                forked.extend(copies)
            branches[:] = forked
        elif isinstance(value, dict):
            _as_event_ruler_reads_it(value, (*path, name), branches)
        else:
            for branch in branches:
                branch[(*path, name)] = value
    return branches


def _matches_on_aws(pattern: dict, event: dict) -> bool:
    for branch in _as_event_ruler_reads_it(pattern):
        nested: dict = {}
        for field_path, filters in branch.items():
            node = nested
            for part in field_path[:-1]:
                node = node.setdefault(part, {})
            node[field_path[-1]] = filters
        if trigger.matches(nested, event):
            return True
    return False


@pytest.mark.parametrize("key", ["other/cat.jpg", "cat.png"])
def test_outside_the_prefix_nothing_starts_as_eventbridge_reads_the_rule(
    config: DeploymentConfig, key: str
) -> None:
    event = _event(key)
    assert _matches_on_aws(ANDED_ON_ONE_FIELD, event)  # the old rule: the suffix replaced the prefix
    assert not _matches_on_aws(trigger.event_pattern(config, BUCKET), event)
    assert _matches_on_aws(trigger.event_pattern(config, BUCKET), _event("uploads/cat.jpg"))


def test_a_field_matched_at_the_top_level_and_inside_or_is_refused_naming_the_field() -> None:
    for key in ("uploads/cat.jpg", "other/cat.jpg", "cat.png"):
        with pytest.raises(trigger.TriggerError, match=r"'detail\.object\.key'.*twice in one branch"):
            trigger.matches(ANDED_ON_ONE_FIELD, _event(key))


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ({"$or": [{"detail": {"object": {"key": ["a"]}}}]}, "at least 2 objects"),
        ({"$or": [{"a": ["x"]}, "b"]}, "every alternative is an object"),
        ({"detail": {}}, "'detail': empty objects"),
        ({"detail": {"object": {"key": []}}}, "'detail.object.key': empty arrays"),
        ({"detail": "x"}, "'detail': must be an object or a list"),
        (
            {"$or": [{"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]}, {"c": ["w"]}]},
            "'a': matched twice",
        ),
        ({"detail": {"object": {"key": [{"prefix": "a", "suffix": "b"}]}}}, "exactly one operator"),
        ({"detail": {"object": {"key": [{"prefix": {"anything": "a"}}]}}}, "prefix needs a string"),
        ({"detail": {"object": {"key": [{"exists": "yes"}]}}}, "exists takes true or false"),
        ({"detail": {"object": {"key": [{"anything-but": ["a", 1]}]}}}, "all strings or all numbers"),
    ],
)
def test_patterns_event_ruler_refuses_are_refused(pattern: dict, message: str) -> None:
    with pytest.raises(trigger.TriggerError, match=message):
        trigger.check_pattern(pattern)


def test_or_alternatives_on_different_fields_are_accepted_and_matched_as_eventbridge_does() -> None:
    pattern = {
        "source": ["aws.s3"],
        "$or": [
            {"detail": {"object": {"key": [{"prefix": "uploads/"}]}}},
            {"detail": {"reason": ["CopyObject"]}},
        ],
    }
    assert trigger.matches(pattern, _event("uploads/a.jpg")) is True
    assert trigger.matches(pattern, _event("other/a.jpg")) is False
    copied = _event("other/a.jpg")
    copied["detail"]["reason"] = "CopyObject"
    assert trigger.matches(pattern, copied) is True


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
        "sourceEvent": {
            "bucket": BUCKET,
            "key": "uploads/cat.jpg",
            "versionId": "v1",
            "sequencer": "0000000000000001",
        },
    }


def test_transformer_escapes_values_inside_strings() -> None:
    transformer = {"InputPathsMap": {"k": "$.detail.object.key"}, "InputTemplate": '{"a": "x/<k>", "b": <k>}'}
    event = _event("uploads/a.jpg")
    event["detail"]["object"]["key"] = 'we"ird'
    assert json.loads(trigger.apply_input_transformer(transformer, event)) == {"a": 'x/we"ird', "b": 'we"ird'}


def test_unknown_operator_is_refused_not_matched() -> None:
    with pytest.raises(trigger.TriggerError, match="numeric"):
        trigger.matches({"detail": {"object": {"size": [{"numeric": [">", 1]}]}}}, _event("uploads/a.jpg"))


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
