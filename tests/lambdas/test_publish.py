"""upload_toS3's publish step: the imgpipe-digest metadata it writes is the digest in the key it
writes to, for S3 copies and local files alike, so publishing the result again verifies in place."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.adapters import s3 as s3_adapter
from lambdas.core.keys import published_digest, rendition_digest_in_key
from lambdas.upload_toS3.handler import handler as upload_handler
from tests.lambdas.conftest import OUTPUT_BUCKET, OUTPUT_PREFIX, SOURCE_BUCKET, WriteCounter
from tests.support import images
from tests.support.images import decode


def _published(s3: Any, uri: str) -> tuple[str, bytes, dict[str, str]]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    assert bucket == OUTPUT_BUCKET
    response = s3.get_object(Bucket=bucket, Key=key)
    return key, response["Body"].read(), response["Metadata"]


def _assert_republish_verifies_in_place(uri: str, context: Any, counting: WriteCounter) -> None:
    writes = list(counting.writes)
    again = upload_handler({"fileLocation": uri}, context)
    assert again["fileLocation"] == uri
    assert counting.writes == writes  # verified by HEAD, nothing written


def test_an_s3_copy_carries_the_digest_of_its_key_not_the_source_metadata(
    s3: Any, context: Any, counting: WriteCounter
) -> None:
    data = images.jpeg_photo(64, 48)
    # A rendition published by another deployment: its own digest must not be carried over.
    s3.put_object(
        Bucket=SOURCE_BUCKET,
        Key="other/cat/0123456789abcdef/64x48.jpg",
        Body=data,
        ContentType="image/jpeg",
        Metadata={"imgpipe-digest": "0123456789abcdef"},
    )
    result = upload_handler(
        {"fileLocation": f"s3://{SOURCE_BUCKET}/other/cat/0123456789abcdef/64x48.jpg"}, context
    )
    key, body, metadata = _published(s3, result["fileLocation"])
    key_digest = rendition_digest_in_key(OUTPUT_PREFIX, key)
    assert key_digest is not None
    assert metadata["imgpipe-digest"] == key_digest != "0123456789abcdef"
    assert body == data
    assert decode(body).size == (64, 48)
    _assert_republish_verifies_in_place(result["fileLocation"], context, counting)


def test_an_s3_copy_digest_is_the_object_identity_digest(s3: Any, context: Any) -> None:
    s3.put_object(Bucket=SOURCE_BUCKET, Key="incoming/a.png", Body=images.rgba_png(20, 10))
    head = s3.head_object(Bucket=SOURCE_BUCKET, Key="incoming/a.png")
    location = s3_adapter.S3Location(SOURCE_BUCKET, "incoming/a.png")
    identity = s3_adapter.object_identity(location, head["ETag"])
    result = upload_handler({"fileLocation": location.uri}, context)
    key, _, metadata = _published(s3, result["fileLocation"])
    assert (
        metadata["imgpipe-digest"]
        == published_digest(identity)
        == rendition_digest_in_key(OUTPUT_PREFIX, key)
    )


def test_a_local_file_carries_the_digest_of_its_key(
    s3: Any, context: Any, counting: WriteCounter, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_FILES_ROOT", str(tmp_path))
    path = tmp_path / "out.webp"
    data = images.encode(images.photo(64, 48), "WEBP")
    path.write_bytes(data)
    result = upload_handler({"fileLocation": str(path)}, context)
    key, body, metadata = _published(s3, result["fileLocation"])
    assert metadata["imgpipe-digest"] == rendition_digest_in_key(OUTPUT_PREFIX, key)
    assert body == data
    assert path.read_bytes() == data  # the source is never modified
    assert (decode(body).format, decode(body).size) == ("WEBP", (64, 48))
    _assert_republish_verifies_in_place(result["fileLocation"], context, counting)


def test_a_local_image_is_sniffed_under_the_configured_limits(
    s3: Any, context: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No special "unlimited" limits for sniffing: a file over MAX_SOURCE_PIXELS is refused, typed."""
    from lambdas.core.errors import ImageTooLargeError

    monkeypatch.setenv("LOCAL_FILES_ROOT", str(tmp_path))
    monkeypatch.setenv("MAX_SOURCE_PIXELS", "1000")
    path = tmp_path / "big.png"
    path.write_bytes(images.rgba_png(50, 40))
    with pytest.raises(ImageTooLargeError, match="2000 pixels exceeds the limit of 1000") as raised:
        upload_handler({"fileLocation": str(path)}, context)
    assert raised.value.field == "fileLocation"


def test_object_identity_is_the_etag_of_the_version_read_without_quotes() -> None:
    """Content-addressed: two versions with the same bytes (the same ETag) share their renditions."""
    location = s3_adapter.S3Location("bucket", "uploads/a.jpg")
    assert s3_adapter.object_identity(location, '"abc"') == "s3://bucket/uploads/a.jpg#etag=abc"
    assert s3_adapter.object_identity(location, "abc") == "s3://bucket/uploads/a.jpg#etag=abc"
    pinned = s3_adapter.S3Location("bucket", "uploads/a.jpg", version_id="v1", etag="abc", size=3)
    assert s3_adapter.object_identity(pinned, "abc") == s3_adapter.object_identity(location, "abc")
    assert (
        s3_adapter.S3Object(pinned, b"", "abc", "v1", None).identity == "s3://bucket/uploads/a.jpg#etag=abc"
    )
    assert s3_adapter.S3Object(location, b"", "abd", "v1", None).identity.endswith("#etag=abd")
