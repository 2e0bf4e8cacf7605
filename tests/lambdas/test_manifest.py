"""The manifest image_render_renditions writes beside a source's renditions, over moto S3: every
entry checked against the object it names (decoded), the srcset strings, the placeholder, and the
same bytes on every re-run."""

from __future__ import annotations

import io
import json
from typing import Any

import blurhash
import pytest
from PIL import Image, ImageDraw, ImageStat

from lambdas.core import manifest as manifests
from lambdas.core.keys import MANIFEST_NAME
from lambdas.core.placeholder import components_for, dominant_colour, placeholder, preview
from lambdas.image_render_renditions.handler import handler
from tests.lambdas.conftest import (
    CACHE_CONTROL,
    OUTPUT_BUCKET,
    SOURCE_BUCKET,
    load_event,
    put_source,
    read_object,
)
from tests.support import images
from tests.support.images import decode

EVENT = "image_render_renditions"
SOURCE_KEY = "uploads/holiday photo.jpg"


def _put_source(s3: Any, data: bytes, key: str = SOURCE_KEY) -> None:
    put_source(s3, data, key)


_read = read_object


def _delete(s3: Any, uri: str) -> None:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    s3.delete_object(Bucket=bucket, Key=key)


def _blue_with_red_patch(width: int = 640, height: int = 480) -> Image.Image:
    image = Image.new("RGB", (width, height), (30, 60, 200))
    ImageDraw.Draw(image).rectangle((0, 0, width // 4, height // 4), fill=(230, 30, 30))
    return image


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def test_the_manifest_lists_every_rendition_as_published(s3: Any, context: Any) -> None:
    _put_source(s3, images.jpeg_with_orientation(640, 480, orientation=6))
    result = handler(load_event(EVENT), context)
    body, response = _read(s3, result["manifestLocation"])
    assert result["manifestLocation"].startswith(f"s3://{OUTPUT_BUCKET}/renditions/holiday-photo/")
    assert result["manifestLocation"].endswith(f"/{MANIFEST_NAME}")
    assert response["ContentType"] == "application/json"
    assert response["CacheControl"] == CACHE_CONTROL
    assert response["Metadata"]["imgpipe-digest"] == result["manifestLocation"].split("/")[-2]
    document = json.loads(body)
    assert document["manifestVersion"] == 1
    # the source as displayed: orientation 6 turns 640x480 into portrait
    assert document["source"] == {
        "fileLocation": f"s3://{SOURCE_BUCKET}/{SOURCE_KEY}",
        "format": "JPEG",
        "width": 480,
        "height": 640,
    }
    assert len(document["renditions"]) == len(result["renditions"]) == 4
    for entry, reported in zip(document["renditions"], result["renditions"], strict=True):
        assert entry["fileLocation"] == reported["fileLocation"]
        assert entry["key"] == reported["fileLocation"].removeprefix(f"s3://{OUTPUT_BUCKET}/")
        assert entry["url"] == f"https://{OUTPUT_BUCKET}.s3.us-east-1.amazonaws.com/{entry['key']}"
        data, head = _read(s3, entry["fileLocation"])
        assert entry["bytes"] == len(data)
        assert entry["contentType"] == head["ContentType"]
        rendition = decode(data)
        assert (entry["width"], entry["height"]) == rendition.size
        assert rendition.format == entry["format"].upper()  # WEBP, JPEG
    widths: dict[str, list[int]] = {}
    for entry in document["renditions"]:
        widths.setdefault(entry["format"], []).append(entry["width"])
    for fmt, srcset in document["srcset"].items():
        candidates = [candidate.split(" ") for candidate in srcset.split(", ")]
        assert [int(descriptor.removesuffix("w")) for _, descriptor in candidates] == sorted(widths[fmt])
        listed = {e["url"] for e in document["renditions"] if e["format"] == fmt}
        assert {url for url, _ in candidates} == listed
    assert set(document["srcset"]) == {"webp", "jpeg"}


def test_the_placeholder_looks_like_the_source(s3: Any, context: Any) -> None:
    source = _blue_with_red_patch()
    _put_source(s3, _jpeg(source))
    result = handler(load_event(EVENT), context)
    document = json.loads(_read(s3, result["manifestLocation"])[0])
    hashed = document["placeholder"]["blurhash"]
    assert blurhash.components(hashed) == components_for((640, 480)) == (4, 3)
    # the dominant colour is the blue (15/16 of the area), within JPEG's error
    colour = document["placeholder"]["dominantColor"]
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    assert all(abs(got - want) < 20 for got, want in zip(rgb, (30, 60, 200), strict=True))
    # decoded as a browser would: the red corner is red, the rest blue, the mean close to the source's
    painted = preview(hashed, (64, 48))
    assert painted.getpixel((2, 2))[0] > painted.getpixel((2, 2))[2]
    assert painted.getpixel((60, 44))[2] > painted.getpixel((60, 44))[0]
    source_mean = ImageStat.Stat(source).mean
    painted_mean = ImageStat.Stat(painted).mean
    assert all(abs(a - b) < 20 for a, b in zip(source_mean, painted_mean, strict=True))


def test_transparent_pixels_are_not_the_dominant_colour() -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))  # mostly transparent black
    ImageDraw.Draw(image).rectangle((150, 0, 199, 99), fill=(20, 200, 40, 255))
    assert dominant_colour(image) == "#14c828"
    assert dominant_colour(Image.new("RGBA", (10, 10), (0, 0, 0, 0))) == "#ffffff"
    taken = placeholder(image)  # composited over white: the transparent part is light, not black
    assert min(preview(taken.blurhash, (20, 10)).getpixel((2, 5))) > 150


@pytest.mark.parametrize("rerun", ["skip nothing", "manifest deleted", "manifest and a rendition deleted"])
def test_a_rerun_writes_the_same_manifest_bytes(s3: Any, context: Any, rerun: str) -> None:
    _put_source(s3, images.jpeg_photo(1700, 1700))  # draft 1/2 for 800, 1/8 for 200 alone
    sizes = [{"width": 800, "height": 800}, {"width": 200, "height": 200}]
    event = load_event(EVENT, outputSizes=sizes, fit="cover", gravity="smart")
    first = handler(event, context)
    before = _read(s3, first["manifestLocation"])[0]
    if rerun == "skip nothing":
        again = handler({**event, "skipExisting": False}, context)
    else:
        _delete(s3, first["manifestLocation"])
        if rerun == "manifest and a rendition deleted":
            _delete(s3, first["renditions"][3]["fileLocation"])  # the small JPEG: draft would differ
        again = handler(event, context)
    assert again["manifestLocation"] == first["manifestLocation"]
    assert _read(s3, again["manifestLocation"])[0] == before


def test_the_manifest_key_follows_the_source_and_the_recipe_set(s3: Any, context: Any) -> None:
    _put_source(s3, images.jpeg_photo(400, 300))
    first = handler(load_event(EVENT), context)
    reordered = handler(load_event(EVENT, outputFormats=["jpg", "webp"]), context)
    _put_source(s3, images.jpeg_photo(401, 300))  # new bytes: a new ETag
    new_source = handler(load_event(EVENT), context)
    locations = {first["manifestLocation"], reordered["manifestLocation"], new_source["manifestLocation"]}
    assert len(locations) == 3
    # beside the renditions: the same source folder
    assert {location.rsplit("/", 2)[0] for location in locations} == {
        first["renditions"][0]["fileLocation"].rsplit("/", 2)[0]
    }


def test_hostile_keys_stay_data_in_the_manifest(s3: Any, context: Any) -> None:
    key = 'uploads/"><script>alert(1)</script>, 2x ünï.jpg'
    _put_source(s3, images.jpeg_photo(400, 300), key=key)
    result = handler(load_event(EVENT, fileLocation=f"s3://{SOURCE_BUCKET}/{key}"), context)
    body = _read(s3, result["manifestLocation"])[0]
    body.decode("ascii")  # every non-ASCII character escaped
    assert b"<script>" in body  # as JSON text, which a page must treat as data...
    document = json.loads(body)
    assert document["source"]["fileLocation"] == f"s3://{SOURCE_BUCKET}/{key}"  # ...read back exactly
    for srcset in document["srcset"].values():
        for candidate in srcset.split(", "):
            url, descriptor = candidate.split(" ")  # no space or comma inside a URL
            assert url.startswith("https://")
            assert descriptor.endswith("w")


def test_srcset_keeps_the_first_rendition_of_a_repeated_width() -> None:
    def entry(url: str, width: int, height: int) -> manifests.ManifestRendition:
        return manifests.ManifestRendition(
            location="s3://b/" + url, key=url, url=url, format="webp", content_type="image/webp",
            width=width, height=height, bytes=1, requested=(width, height),
        )  # fmt: skip

    listed = [entry("a", 300, 200), entry("b", 100, 50), entry("c", 300, 300)]
    assert manifests.srcsets(listed) == {"webp": "b 100w, a 300w"}


def test_write_manifest_false_writes_none_and_asks_s3_for_none(s3: Any, context: Any) -> None:
    _put_source(s3, images.jpeg_photo(400, 300))
    result = handler(load_event(EVENT, writeManifest=False), context)
    assert result["manifestLocation"] is None
    assert result["rendered"] == 4
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET)["Contents"]
    assert len(listed) == 4
    assert not any(item["Key"].endswith(f"/{MANIFEST_NAME}") for item in listed)
    # null (a workflow input left out) means the default: written
    assert handler(load_event(EVENT, writeManifest=None), context)["manifestLocation"] is not None
