"""image_render_renditions: one GET, one decode, every rendition, over moto S3; every output decoded
and compared with a plain Pillow reading of the source."""

from __future__ import annotations

import io
import threading
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from PIL import Image, ImageChops, ImageOps, ImageStat

from lambdas.adapters import s3 as s3_adapter
from lambdas.core.errors import (
    CorruptImageError,
    InvalidRecipeError,
    SourceNotFoundError,
    SourceRefusedError,
    StorageThrottledError,
    WorkerError,
)
from lambdas.image_convert_resize.handler import handler as convert_handler
from lambdas.image_render_renditions.handler import handler
from lambdas.services import render_all
from tests.lambdas.conftest import CACHE_CONTROL, OUTPUT_BUCKET, SOURCE_BUCKET, load_event, read_object
from tests.lambdas.conftest import put_source as put_object_source
from tests.support import images
from tests.support.images import decode, px

SOURCE_KEY = "uploads/holiday photo.jpg"
EVENT = "image_render_renditions"


class RequestCounter:
    """The moto client, with every S3 operation the worker calls counted (from any thread)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: Counter[str] = Counter()
        self.fail_put_key: str | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if not callable(attribute) or name == "meta":
            return attribute

        def call(**parameters: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            if name == "put_object" and parameters.get("Key", "").endswith(self.fail_put_key or "\0"):
                throttled: Any = {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}
                raise ClientError(throttled, name)
            return attribute(**parameters)

        return call


@pytest.fixture
def requests(s3: Any, monkeypatch: pytest.MonkeyPatch) -> RequestCounter:
    counter = RequestCounter(s3_adapter.client())
    monkeypatch.setattr(s3_adapter, "client", lambda: counter)
    return counter


def put_source(s3: Any, data: bytes, key: str = SOURCE_KEY) -> None:
    put_object_source(s3, data, key)


read = read_object


def output_keys(s3: Any) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("Contents", []))


def plain_pillow(source: bytes, size: tuple[int, int], mode: str) -> Image.Image:
    """What a plain Pillow reading of the source looks like at `size`: EXIF orientation applied."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(source)))
    return image.convert(mode).resize(size, Image.Resampling.LANCZOS)


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / len(first.getbands())


def test_every_rendition_of_the_real_event_matches_plain_pillow(
    s3: Any, requests: RequestCounter, context: Any
) -> None:
    source = images.jpeg_with_orientation(640, 480, orientation=6)
    put_source(s3, source)
    result = handler(load_event(EVENT), context)

    assert result["sourceLocation"] == f"s3://{SOURCE_BUCKET}/{SOURCE_KEY}"
    assert (result["rendered"], result["skipped"]) == (4, 0)
    # formats x sizes, in the request's order; never upscaled; portrait after EXIF rotation
    described = [(r["outputFormat"], r["outputWidth"], r["outputHeight"]) for r in result["renditions"]]
    assert described == [("webp", 480, 640), ("webp", 225, 300), ("jpeg", 480, 640), ("jpeg", 225, 300)]
    for rendition in result["renditions"]:
        body, response = read(s3, rendition["fileLocation"])
        assert rendition["bytes"] == len(body)
        assert response["ContentType"] == rendition["contentType"]
        assert response["CacheControl"] == CACHE_CONTROL
        assert response["Metadata"]["imgpipe-digest"] == rendition["fileLocation"].split("/")[-2]
        assert (
            response["Metadata"]["imgpipe-size"] == f"{rendition['outputWidth']}x{rendition['outputHeight']}"
        )
        image = decode(body)
        assert image.format == {"webp": "WEBP", "jpeg": "JPEG"}[rendition["outputFormat"]]
        assert image.size == (rendition["outputWidth"], rendition["outputHeight"])
        assert image.mode == "RGB"
        assert 0x0112 not in image.getexif()
        assert px(image, (image.width - 3, 3))[0] > 200  # the marker is top-right: orientation applied
        assert mean_difference(image, plain_pillow(source, image.size, "RGB")) < 4.0
    # a HEAD and a PUT per rendition, and for the manifest (tests/lambdas/test_manifest.py)
    assert requests.calls == Counter(get_object=1, head_object=5, put_object=5)
    assert len(output_keys(s3)) == 5


def test_keys_bytes_and_metadata_are_those_of_image_convert_resize(s3: Any, context: Any) -> None:
    put_source(s3, images.rgba_png(300, 200), key="uploads/logo.png")
    location = f"s3://{SOURCE_BUCKET}/uploads/logo.png"
    result = handler(
        load_event(
            EVENT, fileLocation=location, outputFormats=["png"], outputSizes=[{"width": 150, "height": 150}]
        ),
        context,
    )
    single = convert_handler(
        {"fileLocation": location, "outputFormat": "png", "outputWidth": 150, "outputHeight": 150}, context
    )
    (rendition,) = result["renditions"]
    assert rendition["fileLocation"] == single["fileLocation"]
    assert (rendition["outputWidth"], rendition["outputHeight"]) == (
        single["outputWidth"],
        single["outputHeight"],
    )
    # convert rewrote the same key: its bytes (a PNG of a PNG, no draft decoding) are the same
    assert rendition["bytes"] == single["bytes"]


def test_alpha_is_kept_where_the_format_has_it_and_flattened_in_jpeg(s3: Any, context: Any) -> None:
    source = images.rgba_png(300, 200)
    put_source(s3, source, key="uploads/logo.png")
    event = load_event(
        EVENT,
        fileLocation=f"s3://{SOURCE_BUCKET}/uploads/logo.png",
        outputFormats=["png", "webp", "jpg"],
        outputSizes=[{"width": 150, "height": 150}],
    )
    result = handler(event, context)
    by_format = {r["outputFormat"]: decode(read(s3, r["fileLocation"])[0]) for r in result["renditions"]}
    assert by_format["png"].mode == "RGBA"
    assert by_format["webp"].mode == "RGBA"
    assert by_format["png"].size == (150, 100)
    expected = plain_pillow(source, (150, 100), "RGBA")
    assert px(by_format["png"], (2, 60))[3] == 0  # transparent corner stays transparent
    alpha_difference = ImageChops.difference(by_format["png"].getchannel("A"), expected.getchannel("A"))
    assert ImageStat.Stat(alpha_difference).mean[0] < 2.0
    assert by_format["jpeg"].mode == "RGB"
    assert px(by_format["jpeg"], (2, 60)) > (240, 240, 240)  # flattened over white


def test_a_second_run_skips_everything_without_decoding(
    s3: Any, requests: RequestCounter, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_source(s3, images.jpeg_photo(400, 300))
    first = handler(load_event(EVENT), context)
    requests.calls.clear()

    def no_decode(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded although every rendition exists")

    monkeypatch.setattr(render_all, "load_source", no_decode)
    second = handler(load_event(EVENT), context)
    assert (second["rendered"], second["skipped"]) == (0, 4)
    assert requests.calls == Counter(get_object=1, head_object=5)
    assert second["manifestLocation"] == first["manifestLocation"]
    for before, after in zip(first["renditions"], second["renditions"], strict=True):
        assert {**before, "skipped": True} == after


def test_a_recipe_change_renders_only_the_new_renditions(
    s3: Any, requests: RequestCounter, context: Any
) -> None:
    put_source(s3, images.jpeg_photo(400, 300))
    handler(load_event(EVENT), context)
    requests.calls.clear()
    sizes = [{"width": 1200, "height": 1200}, {"width": 300, "height": 300}, {"width": 100, "height": 100}]
    result = handler(load_event(EVENT, outputSizes=sizes), context)
    assert (result["rendered"], result["skipped"]) == (2, 4)
    assert [r["skipped"] for r in result["renditions"]] == [True, True, False, True, True, False]
    # another recipe set, another manifest (the first one stays: it describes the first set)
    assert requests.calls == Counter(get_object=1, head_object=7, put_object=3)
    assert len(output_keys(s3)) == 6 + 2


def test_an_object_at_the_key_without_the_digest_is_rendered_again(s3: Any, context: Any) -> None:
    put_source(s3, images.jpeg_photo(400, 300))
    first = handler(load_event(EVENT), context)
    bucket, key = first["renditions"][0]["fileLocation"].removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=b"not a rendition")
    again = handler(load_event(EVENT), context)
    assert (again["rendered"], again["skipped"]) == (1, 3)
    assert decode(read(s3, first["renditions"][0]["fileLocation"])[0]).format == "WEBP"


def test_many_renditions_go_through_the_bounded_pool_in_order(
    s3: Any, requests: RequestCounter, context: Any
) -> None:
    put_source(s3, images.jpeg_photo(400, 300))
    sizes = [{"width": w, "height": w} for w in (320, 280, 240, 200, 160, 120, 80, 40, 20, 10)]
    result = handler(load_event(EVENT, outputSizes=sizes), context)
    assert result["rendered"] == 20 > render_all.MAX_CONCURRENT_REQUESTS
    assert [r["requestedWidth"] for r in result["renditions"]] == [s["width"] for s in sizes] * 2
    assert requests.calls["put_object"] == 20 + 1
    assert requests.calls["get_object"] == 1


def test_a_throttled_put_fails_the_task_with_the_retryable_error(
    s3: Any, requests: RequestCounter, context: Any
) -> None:
    put_source(s3, images.jpeg_photo(400, 300))
    requests.fail_put_key = "/300x300.jpg"
    with pytest.raises(StorageThrottledError) as raised:
        handler(load_event(EVENT), context)
    assert raised.value.field == "fileLocation"
    # the source is untouched and the other renditions were written
    assert s3.head_object(Bucket=SOURCE_BUCKET, Key=SOURCE_KEY)["ContentLength"] > 0
    assert len(output_keys(s3)) == 3  # the manifest, written last, is not


@pytest.mark.parametrize(
    ("replacements", "error", "field"),
    [
        ({"outputFormats": ["webp", "bmp"]}, InvalidRecipeError, "outputFormats.1"),
        ({"outputSizes": [{"width": 0, "height": 10}]}, InvalidRecipeError, "outputSizes.0.width"),
        ({"outputSizes": [{"width": 99999, "height": 10}]}, InvalidRecipeError, "outputSizes.0.width"),
        ({"outputFormats": []}, InvalidRecipeError, "outputFormats"),
        ({"subWorkflowName": "image_resize_upload"}, InvalidRecipeError, "subWorkflowName"),
        ({"fit": "cover", "maintainAspectRatio": False}, InvalidRecipeError, "fit"),
        ({"fileLocation": "ftp://host/a.jpg"}, SourceRefusedError, "fileLocation"),
        ({"fileLocation": "/etc/passwd"}, SourceRefusedError, "fileLocation"),
        ({"fileLocation": f"s3://{SOURCE_BUCKET}/uploads/missing.jpg"}, SourceNotFoundError, "fileLocation"),
    ],
)
def test_bad_input_is_a_typed_error_naming_the_field_and_writes_nothing(
    s3: Any,
    requests: RequestCounter,
    context: Any,
    replacements: dict[str, Any],
    error: type[WorkerError],
    field: str,
) -> None:
    put_source(s3, images.jpeg_photo(400, 300))
    with pytest.raises(error) as raised:
        handler(load_event(EVENT, **replacements), context)
    assert raised.value.field == field
    assert requests.calls["put_object"] == 0


def test_too_many_renditions_is_refused_before_any_request(
    s3: Any, requests: RequestCounter, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_FANOUT", "3")
    with pytest.raises(InvalidRecipeError, match="MAX_FANOUT=3") as raised:
        handler(load_event(EVENT), context)
    assert raised.value.field == "outputSizes"
    assert sum(requests.calls.values()) == 0


def test_a_corrupt_source_is_refused_after_one_get(s3: Any, requests: RequestCounter, context: Any) -> None:
    put_source(s3, images.jpeg_photo(400, 300)[:400])
    with pytest.raises(CorruptImageError):
        handler(load_event(EVENT), context)
    assert requests.calls["get_object"] == 1
    assert requests.calls["put_object"] == 0
    assert output_keys(s3) == []


def test_skip_existing_false_writes_every_rendition_without_asking_s3(
    s3: Any, requests: RequestCounter, context: Any
) -> None:
    put_source(s3, images.jpeg_photo(400, 300))
    first = handler(load_event(EVENT, skipExisting=False), context)
    bodies = [read(s3, r["fileLocation"])[0] for r in first["renditions"]]
    requests.calls.clear()
    again = handler(load_event(EVENT, skipExisting=False), context)
    assert (again["rendered"], again["skipped"]) == (4, 0)
    assert requests.calls == Counter(get_object=1, put_object=5)
    assert [read(s3, r["fileLocation"])[0] for r in again["renditions"]] == bodies  # deterministic bytes
