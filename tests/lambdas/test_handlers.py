"""The three handlers, called with real-shaped events (tests/events) and a fake Lambda context, over
moto S3. Outputs are read back from S3 and decoded."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.adapters import fetch
from lambdas.adapters import s3 as s3_adapter
from lambdas.core.errors import (
    ImageTooLargeError,
    InvalidRecipeError,
    SourceNotFoundError,
    SourceRefusedError,
    StorageThrottledError,
    UnsupportedImageError,
)
from lambdas.image_convert_resize.handler import handler as convert_handler
from lambdas.image_multiple_convert_resize.handler import handler as plan_handler
from lambdas.upload_toS3.handler import handler as upload_handler
from tests.lambdas.conftest import (
    CACHE_CONTROL,
    OUTPUT_BUCKET,
    OUTPUT_PREFIX,
    SOURCE_BUCKET,
    WriteCounter,
    load_event,
)
from tests.support import images
from tests.support.images import decode, px

SOURCE_KEY = "uploads/holiday photo.jpg"


def put_source(s3: Any, data: bytes, key: str = SOURCE_KEY, content_type: str = "image/jpeg") -> None:
    s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=data, ContentType=content_type)


def output_keys(s3: Any) -> list[str]:
    listing = s3.list_objects_v2(Bucket=OUTPUT_BUCKET)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def read(s3: Any, uri: str) -> tuple[bytes, dict[str, Any]]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    response = s3.get_object(Bucket=bucket, Key=key)
    return response["Body"].read(), response


def test_convert_writes_one_decodable_rendition_at_a_deterministic_key(s3: Any, context: Any) -> None:
    put_source(s3, images.jpeg_with_orientation(640, 480, orientation=6))
    result = convert_handler(load_event("image_convert_resize"), context)

    assert result["fileLocation"].startswith(f"s3://{OUTPUT_BUCKET}/{OUTPUT_PREFIX}holiday-photo/")
    assert result["fileLocation"].endswith("/300x300.jpg")
    assert (result["outputWidth"], result["outputHeight"]) == (225, 300)  # portrait after EXIF rotation
    assert result["outputFormat"] == "jpeg"
    assert result["contentType"] == "image/jpeg"
    assert result["sourceLocation"] == f"s3://{SOURCE_BUCKET}/{SOURCE_KEY}"

    body, response = read(s3, result["fileLocation"])
    assert result["bytes"] == len(body)
    assert response["ContentType"] == "image/jpeg"
    assert response["CacheControl"] == CACHE_CONTROL
    digest = result["fileLocation"].split("/")[-2]
    assert response["Metadata"]["imgpipe-digest"] == digest
    assert response["Metadata"]["imgpipe-source"] == "s3://imgpipe-test-uploads/uploads/holiday%20photo.jpg"
    assert json.loads(response["Metadata"]["imgpipe-recipe"])["fit"] == "contain"
    image = decode(body)
    assert image.format == "JPEG"
    assert image.size == (225, 300)
    assert image.mode == "RGB"
    assert 0x0112 not in image.getexif()
    assert px(image, (image.width - 3, 3))[0] > 200  # marker moved to the top-right: orientation applied


def test_convert_twice_rewrites_the_same_object_with_identical_bytes(s3: Any, context: Any) -> None:
    source = images.jpeg_photo(640, 480)
    put_source(s3, source)
    first = convert_handler(load_event("image_convert_resize"), context)
    etag = read(s3, first["fileLocation"])[1]["ETag"]
    second = convert_handler(load_event("image_convert_resize", outputFormat="JPEG"), context)
    assert second == first
    assert read(s3, second["fileLocation"])[1]["ETag"] == etag
    assert len(output_keys(s3)) == 1
    assert read(s3, f"s3://{SOURCE_BUCKET}/{SOURCE_KEY}")[0] == source  # the source is never modified


def test_a_new_source_version_or_recipe_gets_a_new_key(s3: Any, context: Any) -> None:
    put_source(s3, images.jpeg_photo(640, 480))
    first = convert_handler(load_event("image_convert_resize"), context)["fileLocation"]
    cover = convert_handler(load_event("image_convert_resize", fit="cover"), context)["fileLocation"]
    put_source(s3, images.jpeg_photo(641, 480))  # same key, new content, new ETag
    replaced = convert_handler(load_event("image_convert_resize"), context)["fileLocation"]
    assert len({first, cover, replaced}) == 3


def test_fork_shaped_event_with_null_aspect_flag_does_not_upscale(s3: Any, context: Any) -> None:
    put_source(s3, images.jpeg_photo(640, 480))
    result = convert_handler(load_event("image_convert_resize_from_fork"), context)
    image = decode(read(s3, result["fileLocation"])[0])
    assert image.format == "WEBP"
    assert image.size == (640, 480) == (result["outputWidth"], result["outputHeight"])


@pytest.mark.parametrize(
    ("source", "fmt", "expected_size", "expected_mode", "frames"),
    [
        (images.rgba_png(300, 200), "png", (150, 100), "RGBA", 1),
        (images.animated("GIF", 160, 120), "gif", (150, 112), "P", 5),
        (images.animated("GIF", 160, 120), "webp", (150, 112), "RGB", 5),
        (images.cmyk_jpeg(200, 100), "avif", (150, 75), "RGB", 1),
        (images.png16_grey(256, 64), "png", (150, 38), "L", 1),
    ],
)
def test_convert_handles_the_issue_sample_images(
    s3: Any,
    context: Any,
    source: bytes,
    fmt: str,
    expected_size: tuple[int, int],
    expected_mode: str,
    frames: int,
) -> None:
    put_source(s3, source, key="uploads/sample.bin")
    event = load_event(
        "image_convert_resize",
        fileLocation=f"s3://{SOURCE_BUCKET}/uploads/sample.bin",
        outputFormat=fmt,
        outputWidth=150,
        outputHeight=150,
    )
    result = convert_handler(event, context)
    image = decode(read(s3, result["fileLocation"])[0])
    assert image.size == expected_size == (result["outputWidth"], result["outputHeight"])
    assert image.mode == expected_mode
    assert images.frame_count(image) == frames


@pytest.mark.parametrize(
    ("replacements", "error", "field"),
    [
        ({"fileLocation": f"s3://{SOURCE_BUCKET}/uploads/missing.jpg"}, SourceNotFoundError, "fileLocation"),
        ({"fileLocation": "/etc/passwd"}, SourceRefusedError, "fileLocation"),
        ({"fileLocation": "http://example.com/a.jpg"}, SourceRefusedError, "fileLocation"),
        ({"fileLocation": "file:///etc/passwd"}, SourceRefusedError, "fileLocation"),
        ({"fileLocation": "s3://Bad_Bucket/key"}, SourceRefusedError, "fileLocation"),
        ({"outputWidth": 0}, InvalidRecipeError, "outputWidth"),
        ({"outputWidth": 100_000}, InvalidRecipeError, "outputWidth"),
        ({"outputFormat": "tiff"}, InvalidRecipeError, "outputFormat"),
    ],
)
def test_typed_errors_propagate_unwrapped(
    s3: Any, context: Any, replacements: dict[str, Any], error: type[Exception], field: str
) -> None:
    put_source(s3, images.jpeg_photo(64, 48))
    with pytest.raises(error) as caught:
        convert_handler(load_event("image_convert_resize", **replacements), context)
    assert type(caught.value) is error  # the class name is the Step Functions error name
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert output_keys(s3) == []


def test_eps_uploaded_as_jpg_is_unsupported(s3: Any, context: Any) -> None:
    put_source(s3, b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n")
    with pytest.raises(UnsupportedImageError, match="EPS"):
        convert_handler(load_event("image_convert_resize"), context)


def test_local_paths_work_only_when_the_local_runtime_allows_them(
    s3: Any, context: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "local photo.png"
    path.write_bytes(images.rgba_png(300, 200))
    event = load_event("image_convert_resize", fileLocation=str(path), outputFormat="png")
    with pytest.raises(SourceRefusedError, match="LOCAL_FILES_ROOT"):
        convert_handler(event, context)
    monkeypatch.setenv("LOCAL_FILES_ROOT", str(tmp_path))
    result = convert_handler(event, context)
    assert decode(read(s3, result["fileLocation"])[0]).size == (300, 200)
    assert "/local-photo/" in result["fileLocation"]


def test_s3_throttling_is_a_retryable_typed_error(
    s3: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_source(s3, images.jpeg_photo(64, 48))
    real = s3_adapter.client()

    class Throttled(WriteCounter):
        def put_object(self, **kwargs: Any) -> None:
            response: Any = {
                "Error": {"Code": "SlowDown", "Message": "Reduce your request rate"},
                "ResponseMetadata": {"HTTPStatusCode": 503},
            }
            raise ClientError(response, "PutObject")

    monkeypatch.setattr(s3_adapter, "client", lambda: Throttled(real))
    with pytest.raises(StorageThrottledError) as caught:
        convert_handler(load_event("image_convert_resize"), context)
    assert caught.value.retryable is True


def test_missing_output_bucket_is_a_clear_configuration_error(
    s3: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTPUT_BUCKET")
    with pytest.raises(InvalidRecipeError, match="OUTPUT_BUCKET"):
        convert_handler(load_event("image_convert_resize"), context)


def test_metrics_are_emitted_in_the_configured_namespace(
    s3: Any, context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from lambdas.observability import metrics

    put_source(s3, images.jpeg_photo(64, 48))
    convert_handler(load_event("image_convert_resize"), context)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    # the namespace of the process's environment when the worker was imported (tests/conftest.py),
    # as on Lambda; tests/lambdas/test_observability.py sets it per function
    names = {
        metric["Name"]
        for blob in emf
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
        if directive["Namespace"] == metrics.namespace == "imgpipe-tests"
    }
    assert {"RenditionsWritten", "RenditionBytes"} <= names


# --- upload_toS3 ---------------------------------------------------------------------------------


def test_upload_publishes_an_in_place_rendition_without_writing(
    s3: Any, context: Any, counting: WriteCounter
) -> None:
    put_source(s3, images.jpeg_photo(640, 480))
    rendition = convert_handler(load_event("image_convert_resize"), context)
    assert counting.writes == ["put_object"]  # the single write of the whole resize + upload pair
    result = upload_handler(load_event("upload_toS3", **rendition), context)
    assert counting.writes == ["put_object"]
    assert result["fileLocation"] == rendition["fileLocation"]
    key = rendition["fileLocation"].split("/", 3)[3]
    assert result["s3Url"] == f"https://{OUTPUT_BUCKET}.s3.us-east-1.amazonaws.com/{key}"
    assert set(result) == {"fileLocation", "s3Url"}


def test_upload_copies_an_object_from_elsewhere_into_the_output_prefix(
    s3: Any, context: Any, counting: WriteCounter
) -> None:
    put_source(s3, images.jpeg_photo(64, 48), key="incoming/thumb.jpg", content_type="image/jpeg")
    result = upload_handler({"fileLocation": f"s3://{SOURCE_BUCKET}/incoming/thumb.jpg"}, context)
    assert counting.writes == ["copy_object"]
    assert result["fileLocation"].startswith(f"s3://{OUTPUT_BUCKET}/{OUTPUT_PREFIX}thumb/")
    assert result["fileLocation"].endswith("/thumb.jpg")
    body, response = read(s3, result["fileLocation"])
    assert decode(body).size == (64, 48)
    assert response["ContentType"] == "image/jpeg"
    assert response["CacheControl"] == CACHE_CONTROL
    assert response["Metadata"]["imgpipe-source"] == f"s3://{SOURCE_BUCKET}/incoming/thumb.jpg"
    again = upload_handler({"fileLocation": f"s3://{SOURCE_BUCKET}/incoming/thumb.jpg"}, context)
    assert again == result  # idempotent: same key on a retry


def test_upload_refuses_an_unverified_object_at_the_output_location(s3: Any, context: Any) -> None:
    key = f"{OUTPUT_PREFIX}cat/0123456789abcdef/300x300.jpg"
    s3.put_object(
        Bucket=OUTPUT_BUCKET, Key=key, Body=b"whatever", Metadata={"imgpipe-digest": "ffffffffffffffff"}
    )
    with pytest.raises(SourceRefusedError, match="imgpipe-digest"):
        upload_handler({"fileLocation": f"s3://{OUTPUT_BUCKET}/{key}"}, context)


def test_upload_of_a_missing_rendition_is_not_found(s3: Any, context: Any) -> None:
    event = load_event("upload_toS3")
    with pytest.raises(SourceNotFoundError, match="fileLocation"):
        upload_handler(event, context)


def test_upload_of_a_local_file_in_the_local_runtime(
    s3: Any, context: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.webp"
    path.write_bytes(images.encode(images.photo(64, 48), "WEBP"))
    with pytest.raises(SourceRefusedError, match="LOCAL_FILES_ROOT"):
        upload_handler({"fileLocation": str(path)}, context)
    monkeypatch.setenv("LOCAL_FILES_ROOT", str(tmp_path))
    result = upload_handler({"fileLocation": str(path)}, context)
    body, response = read(s3, result["fileLocation"])
    assert response["ContentType"] == "image/webp"
    assert decode(body).size == (64, 48)


@pytest.mark.parametrize("location", ["https://img.example.com/a.png", "ftp://x/y"])
def test_upload_refuses_urls(s3: Any, context: Any, location: str) -> None:
    with pytest.raises(SourceRefusedError):
        upload_handler({"fileLocation": location}, context)


def test_upload_without_file_location_names_the_field(s3: Any, context: Any) -> None:
    with pytest.raises(InvalidRecipeError) as caught:
        upload_handler({"s3Url": "x"}, context)
    assert caught.value.field == "fileLocation"


# --- image_multiple_convert_resize ---------------------------------------------------------------


def test_planner_with_the_seed_event(worker_env: dict[str, str], context: Any) -> None:
    result = plan_handler(load_event("image_multiple_convert_resize"), context)
    references = [task["taskReferenceName"] for task in result["dynamicTasks"]]
    assert references[0] == "image_convert_resize_png_300x300_0"
    assert references[-1] == "image_convert_resize_webp_1200x1200_8"
    assert len(references) == 9
    assert list(result["dynamicTasksInput"]) == references
    assert [item["taskReferenceName"] for item in result["dynamicForkItems"]] == references


def test_planner_refuses_a_location_no_worker_could_read(worker_env: dict[str, str], context: Any) -> None:
    with pytest.raises(SourceRefusedError, match="LOCAL_FILES_ROOT"):
        plan_handler(load_event("image_multiple_convert_resize", fileLocation="/tmp/x.jpg"), context)
    with pytest.raises(SourceRefusedError, match="non-canonical"):
        plan_handler(
            load_event("image_multiple_convert_resize", fileLocation="https://0x7f.1/x.jpg"), context
        )


def test_planner_applies_the_host_allow_list(
    worker_env: dict[str, str], context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_URL_HOSTS", "images.example.com")
    event = load_event("image_multiple_convert_resize", fileLocation="https://other.example.com/x.jpg")
    with pytest.raises(SourceRefusedError, match="ALLOWED_URL_HOSTS"):
        plan_handler(event, context)
    allowed = load_event("image_multiple_convert_resize", fileLocation="https://images.example.com/x.jpg")
    assert len(plan_handler(allowed, context)["dynamicForkItems"]) == 9


def test_oversized_s3_source_is_refused_before_download(
    s3: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = images.jpeg_photo(640, 480)
    put_source(s3, data)
    monkeypatch.setenv("MAX_SOURCE_BYTES", str(len(data) - 1))
    with pytest.raises(ImageTooLargeError, match=f"{len(data)} bytes"):
        convert_handler(load_event("image_convert_resize"), context)


def test_animation_over_the_frame_cap_is_refused(
    s3: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_source(s3, images.animated("GIF", 40, 30, frames=6), key="uploads/anim.gif")
    monkeypatch.setenv("MAX_FRAMES", "5")
    event = load_event("image_convert_resize", fileLocation=f"s3://{SOURCE_BUCKET}/uploads/anim.gif")
    with pytest.raises(ImageTooLargeError, match="6 animation frames"):
        convert_handler(event, context)


def test_https_source_through_the_handler(s3: Any, context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.lambdas.test_fetch import PUBLIC_V4, FakeNetwork, fake_dns, ok

    network = FakeNetwork({"https://images.example.com/cats/tabby.png": ok(images.rgba_png(300, 200))})
    monkeypatch.setattr(fetch, "_open_pool", network.open_pool)
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns({"images.example.com": [PUBLIC_V4]}))
    monkeypatch.setenv("ALLOWED_URL_HOSTS", "images.example.com")
    event = load_event(
        "image_convert_resize", fileLocation="https://images.example.com/cats/tabby.png", outputFormat="webp"
    )
    result = convert_handler(event, context)
    assert "/tabby/" in result["fileLocation"]
    image = decode(read(s3, result["fileLocation"])[0])
    assert (image.format, image.size, image.mode) == ("WEBP", (300, 200), "RGBA")
    assert network.connections[0].address == PUBLIC_V4
    monkeypatch.setenv("ALLOWED_URL_HOSTS", "other.example.com")
    with pytest.raises(SourceRefusedError, match="ALLOWED_URL_HOSTS"):
        convert_handler(event, context)


def test_non_ascii_source_keys_give_ascii_keys_and_metadata(s3: Any, context: Any) -> None:
    key = "uploads/été 2026/Straße ☀.png"
    put_source(s3, images.rgba_png(60, 40), key=key, content_type="image/png")
    event = load_event("image_convert_resize", fileLocation=f"s3://{SOURCE_BUCKET}/{key}", outputFormat="png")
    result = convert_handler(event, context)
    assert result["fileLocation"].isascii()
    body, response = read(s3, result["fileLocation"])
    assert response["Metadata"]["imgpipe-source"].isascii()
    assert "Stra%C3%9Fe" in response["Metadata"]["imgpipe-source"]
    assert decode(body).size == (60, 40)
    published = upload_handler({"fileLocation": f"s3://{SOURCE_BUCKET}/{key}"}, context)
    assert published["fileLocation"].isascii()
    assert read(s3, published["fileLocation"])[0] == images.rgba_png(60, 40)


def test_an_event_form_location_reads_the_decoded_key_and_names_the_plain_renditions(
    s3: Any, context: Any
) -> None:
    """The trigger's location carries the key as the event does (form-encoded: space -> '+')."""
    put_source(s3, images.rgba_png(60, 40), key="uploads/red flower.png", content_type="image/png")
    etag = s3.head_object(Bucket=SOURCE_BUCKET, Key="uploads/red flower.png")["ETag"].strip('"')
    encoded = f"s3://{SOURCE_BUCKET}/uploads/red+flower.png?versionId=&etag={etag}"
    event = load_event("image_convert_resize", fileLocation=encoded, outputFormat="png")
    result = convert_handler(event, context)
    assert result["sourceLocation"] == f"s3://{SOURCE_BUCKET}/uploads/red flower.png"
    assert "/red-flower/" in result["fileLocation"]
    body, _ = read(s3, result["fileLocation"])
    assert decode(body).size == (60, 40)
    # The same object named in the plain form gets the same rendition key (the same identity).
    direct = convert_handler(dict(event, fileLocation=result["sourceLocation"]), context)
    assert direct["fileLocation"] == result["fileLocation"]


def test_a_literal_plus_key_is_used_as_given(s3: Any, context: Any) -> None:
    """A key that really contains '+' is read as is; the decoded twin is never consulted."""
    put_source(s3, images.rgba_png(60, 40), key="uploads/a+b.png", content_type="image/png")
    put_source(s3, images.rgba_png(30, 20), key="uploads/a b.png", content_type="image/png")
    event = load_event(
        "image_convert_resize", fileLocation=f"s3://{SOURCE_BUCKET}/uploads/a+b.png", outputFormat="png"
    )
    result = convert_handler(event, context)
    assert result["sourceLocation"] == f"s3://{SOURCE_BUCKET}/uploads/a+b.png"
    assert decode(read(s3, result["fileLocation"])[0]).size == (60, 40)


def test_a_plain_key_is_asked_for_once_exactly_as_written(
    s3: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No decoded twin is ever tried: `uploads/no such+file.png` exists, the plain key names another."""
    put_source(s3, images.rgba_png(20, 10), key="uploads/no such+file.png", content_type="image/png")
    calls: list[str] = []
    real = s3_adapter.client()

    class Recording:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def get_object(self, **kwargs: Any) -> Any:
            calls.append(kwargs["Key"])
            return real.get_object(**kwargs)

    monkeypatch.setattr(s3_adapter, "client", Recording)
    event = load_event(
        "image_convert_resize", fileLocation=f"s3://{SOURCE_BUCKET}/uploads/no+such%2Bfile.png"
    )
    with pytest.raises(SourceNotFoundError) as raised:
        convert_handler(event, context)
    assert calls == ["uploads/no+such%2Bfile.png"]
    assert raised.value.field == "fileLocation"


def test_access_denied_is_never_retried_with_a_decoded_key(
    s3: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    class Denying:
        def get_object(self, **kwargs: Any) -> Any:
            calls.append(kwargs["Key"])
            response: Any = {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
            raise ClientError(response, "GetObject")

    monkeypatch.setattr(s3_adapter, "client", Denying)
    event = load_event("image_convert_resize", fileLocation=f"s3://{SOURCE_BUCKET}/uploads/a+b.png")
    with pytest.raises(SourceNotFoundError):
        convert_handler(event, context)
    assert calls == ["uploads/a+b.png"]
