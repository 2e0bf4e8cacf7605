"""The two forms of an s3:// location (docs/workers.md "S3 source locations") and reading exactly the
object one names: the plain form is the key as written, the event form (what the upload trigger
builds) names one version of one object, and nothing else is ever read in its place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imgpipe import trigger
from imgpipe.config import DeploymentConfig
from lambdas.adapters import s3 as s3_adapter
from lambdas.adapters import sources
from lambdas.core.errors import SourceNotFoundError, SourceRefusedError
from lambdas.image_convert_resize.handler import handler as convert_handler
from lambdas.image_multiple_convert_resize.handler import handler as plan_handler
from lambdas.settings import ResizeSettings
from lambdas.upload_toS3.handler import handler as upload_handler
from tests.lambdas.conftest import OUTPUT_BUCKET, SOURCE_BUCKET, load_event
from tests.support import images
from tests.support.images import decode

BUCKET = "bucket"
HOSTILE_KEYS = [
    "uploads/a+b.png",
    "uploads/a b.png",
    "uploads/100%.png",
    "uploads/%41%2B.png",
    "uploads/what?.png",
    "uploads/x.png?versionId=v9",
    "uploads/a&etag=b=c#d.png",
    "uploads/../../etc/passwd.png",
    "uploads/./a//b/.png",
    "uploads/été 2026/Straße ☀.png",
    'uploads/q"uote\\back.png',
    "uploads/tab\there\nnewline.png",
    "uploads/~!*'();:@$,[].png",
]


def _event_location(key: str, **named: Any) -> str:
    """The fileLocation the deployed trigger's input transformer renders for an upload of `key`."""
    event = trigger.object_created_event(bucket=BUCKET, key=key, sequencer="0001", **named)
    transformer = trigger.input_transformer(DeploymentConfig.from_cdk_json())
    location: str = json.loads(trigger.apply_input_transformer(transformer, event))["fileLocation"]
    return location


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_the_trigger_location_names_exactly_the_uploaded_key_and_version(key: str) -> None:
    version, etag = "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo", "b1946ac9-12"
    location = _event_location(key, version_id=version, etag=etag, size=1234)
    assert location.isascii()
    assert location.count("?") == 1
    parsed = s3_adapter.parse_s3_uri(location)
    assert parsed == s3_adapter.S3Location(BUCKET, key, version_id=version, etag=etag, size=1234)
    assert parsed.event_uri == location
    assert parsed.uri == f"s3://{BUCKET}/{key}"


def test_an_event_without_a_version_names_the_key_and_etag_only() -> None:
    """An unversioned bucket's event has no version-id: the placeholder renders empty."""
    location = _event_location("uploads/a b.png", etag="abc", size=3)
    assert location == f"s3://{BUCKET}/uploads/a+b.png?versionId=&etag=abc&size=3"
    assert s3_adapter.parse_s3_uri(location) == s3_adapter.S3Location(
        BUCKET, "uploads/a b.png", etag="abc", size=3
    )
    assert s3_adapter.parse_s3_uri(f"s3://{BUCKET}/a+b.png?versionId=v1") == s3_adapter.S3Location(
        BUCKET, "a b.png", version_id="v1"
    )


@pytest.mark.parametrize(
    "key",
    ["uploads/a+b.png", "uploads/a%2Bb.png", "uploads/what?.png", "uploads/x?y=1", "uploads/a b#c.png"],
)
def test_a_plain_location_is_the_key_exactly_as_written(key: str) -> None:
    assert s3_adapter.parse_s3_uri(f"s3://{BUCKET}/{key}") == s3_adapter.S3Location(BUCKET, key)


@pytest.mark.parametrize(
    ("query_or_key", "field", "message"),
    [
        ("a%zz.png?versionId=v1", "fileLocation", "starts no %XX escape"),
        ("a.png%?versionId=v1", "fileLocation", "starts no %XX escape"),
        ("a%FF.png?versionId=v1", "fileLocation", "invalid UTF-8"),
        ("a.png?versionId=v1&colour=red", "fileLocation", "takes versionId, etag, size"),
        ("a.png?versionId=v1&size=3&etag=abc", "fileLocation", "in that order"),
        ("a.png?versionId=v1&etag=a&etag=b", "fileLocation", "in that order"),
        ("a.png?versionId=v1&etag", "fileLocation", "takes versionId"),
        ("a.png?versionId=v 1", "fileLocation.versionId", "not a valid S3 versionId"),
        ("a.png?versionId=<versionId>", "fileLocation.versionId", "not a valid S3 versionId"),
        ('a.png?versionId=v1&etag="abc"', "fileLocation.etag", "not a valid S3 etag"),
        ("a.png?versionId=v1&size=-1", "fileLocation.size", "not a valid S3 size"),
        ("a.png?versionId=v1&size=1e3", "fileLocation.size", "not a valid S3 size"),
    ],
)
def test_a_malformed_event_form_is_refused_naming_the_field(
    query_or_key: str, field: str, message: str
) -> None:
    with pytest.raises(SourceRefusedError, match=message) as raised:
        s3_adapter.parse_s3_uri(f"s3://{BUCKET}/{query_or_key}")
    assert raised.value.field == field


# --- reading ------------------------------------------------------------------------------------
def _versioned(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _put(s3: Any, key: str, body: bytes) -> s3_adapter.S3Location:
    """Upload and return the event-form location S3's event would lead the trigger to build."""
    response = s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=body)
    return s3_adapter.S3Location(
        SOURCE_BUCKET,
        key,
        version_id=response.get("VersionId"),
        etag=response["ETag"].strip('"'),
        size=len(body),
    )


def _read(location: str, worker_env: dict[str, str]) -> sources.SourceData:
    return sources.read_source(location, ResizeSettings.from_env())  # worker_env is os.environ


def test_with_both_keys_present_each_location_reads_its_own_object(
    s3: Any, worker_env: dict[str, str]
) -> None:
    _versioned(s3)
    plus, space = images.rgba_png(60, 40), images.rgba_png(30, 20)
    plus_location = _put(s3, "uploads/a+b.png", plus)
    space_location = _put(s3, "uploads/a b.png", space)
    assert _read(plus_location.event_uri, worker_env).body == plus
    assert _read(space_location.event_uri, worker_env).body == space
    assert _read(f"s3://{SOURCE_BUCKET}/uploads/a+b.png", worker_env).body == plus
    assert _read(f"s3://{SOURCE_BUCKET}/uploads/a b.png", worker_env).body == space
    # Either form of one object gives one identity (hence one set of rendition keys).
    assert (
        _read(space_location.event_uri, worker_env).identity == _read(space_location.uri, worker_env).identity
    )
    assert _read(plus_location.uri, worker_env).identity != _read(space_location.uri, worker_env).identity


def test_the_version_named_is_read_not_the_current_one(s3: Any, worker_env: dict[str, str]) -> None:
    _versioned(s3)
    first = _put(s3, "uploads/cat.png", images.rgba_png(60, 40))
    _put(s3, "uploads/cat.png", images.rgba_png(30, 20))
    read = _read(first.event_uri, worker_env)
    assert decode(read.body).size == (60, 40)
    assert read.location == f"s3://{SOURCE_BUCKET}/uploads/cat.png"


def test_a_version_of_a_neighbour_key_is_never_read(s3: Any, worker_env: dict[str, str]) -> None:
    """Had the key been decoded one time too many, the version still belongs to the other key."""
    _versioned(s3)
    plus = _put(s3, "uploads/a+b.png", images.rgba_png(60, 40))
    _put(s3, "uploads/a b.png", images.rgba_png(30, 20))
    neighbour = s3_adapter.S3Location(SOURCE_BUCKET, "uploads/a b.png", version_id=plus.version_id)
    with pytest.raises(SourceNotFoundError, match=r"\(NoSuchVersion\)") as raised:
        _read(neighbour.event_uri, worker_env)
    assert raised.value.field == "fileLocation"


@pytest.mark.parametrize(("name", "value"), [("etag", "0" * 32), ("size", 7), ("versionId", "other")])
def test_an_object_that_is_not_the_one_named_is_a_typed_error_naming_the_field(
    s3: Any, worker_env: dict[str, str], name: str, value: Any
) -> None:
    location = _put(s3, "uploads/cat.png", images.rgba_png(60, 40))  # unversioned: no version id
    wrong = {"etag": location.etag, "size": location.size, "versionId": None} | {name: value}
    named = s3_adapter.S3Location(
        SOURCE_BUCKET, location.key, wrong["versionId"], wrong["etag"], wrong["size"]
    )
    if name == "versionId":  # S3 refuses a version of an unversioned object before anything is compared
        with pytest.raises(SourceNotFoundError):
            _read(named.event_uri, worker_env)
        return
    with pytest.raises(SourceNotFoundError, match=f"has {name} .*the location names {value!r}") as raised:
        _read(named.event_uri, worker_env)
    assert raised.value.field == f"fileLocation.{name}"


def test_the_worker_renders_the_named_version_and_the_planner_passes_the_location_through(
    s3: Any, context: Any
) -> None:
    _versioned(s3)
    first = _put(s3, "uploads/a b.png", images.rgba_png(60, 40))
    _put(s3, "uploads/a b.png", images.rgba_png(30, 20))
    _put(s3, "uploads/a+b.png", images.rgba_png(90, 10))
    plan = plan_handler(load_event("image_multiple_convert_resize", fileLocation=first.event_uri), context)
    inputs = [item["input"] for item in plan["dynamicForkItems"]]
    assert {task_input["fileLocation"] for task_input in inputs} == {first.event_uri}
    result = convert_handler(dict(inputs[0], outputFormat="png", outputWidth=600, outputHeight=400), context)
    assert result["sourceLocation"] == f"s3://{SOURCE_BUCKET}/uploads/a b.png"
    bucket, key = result["fileLocation"].removeprefix("s3://").split("/", 1)
    assert decode(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).size == (60, 40)


def test_upload_to_s3_copies_the_version_named(s3: Any, context: Any) -> None:
    _versioned(s3)
    first = _put(s3, "incoming/a b.png", images.rgba_png(60, 40))
    _put(s3, "incoming/a b.png", images.rgba_png(30, 20))
    published = upload_handler({"fileLocation": first.event_uri}, context)
    bucket, key = published["fileLocation"].removeprefix("s3://").split("/", 1)
    assert bucket == OUTPUT_BUCKET
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == images.rgba_png(60, 40)


def test_an_answer_for_another_version_is_refused_and_its_body_left_unread(
    s3: Any, worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: S3 answers the version asked for; if it ever did not, nothing is read."""
    _versioned(s3)
    location = _put(s3, "uploads/cat.png", images.rgba_png(60, 40))
    real = s3_adapter.client()
    bodies: list[Any] = []

    class OtherVersion:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def get_object(self, **kwargs: Any) -> Any:
            response = dict(real.get_object(**kwargs), VersionId="another-version")
            bodies.append(response["Body"])
            return response

    monkeypatch.setattr(s3_adapter, "client", OtherVersion)
    with pytest.raises(SourceNotFoundError, match="has versionId 'another-version'") as raised:
        _read(location.event_uri, worker_env)
    assert raised.value.field == "fileLocation.versionId"
    with pytest.raises(ValueError, match="closed"):  # closed before a byte was downloaded
        bodies[0].read()
