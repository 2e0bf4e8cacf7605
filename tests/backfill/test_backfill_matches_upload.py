"""A backfill renders what an upload renders with the same recipe (issue 15's `fit`, `gravity` and
`writeManifest` included): in the local engine, a recipe is made the S3 trigger's default, an image
is uploaded (the trigger's workflow renders it), then the backfill state machine is run over the
same prefix with that recipe as `imgpipe backfill` builds it. The renditions are content-addressed by
source and recipe, so the backfill finds every one the upload wrote and renders nothing; a copy of
the image under another prefix, backfilled, gets byte-identical renditions, cropped at the focal
point, and no manifest, as the recipe says."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from imgpipe.commands.backfill import parse_recipe, read_report
from imgpipe.config import DefaultRecipe, DeploymentConfig
from imgpipe.local.engine import LocalAws

pytestmark = pytest.mark.slow

GUARD_SECONDS = 120  # hang guard for waits, not a performance threshold
RECIPE = {
    "outputFormats": ["png", "webp"],
    "outputSizes": [{"width": 32, "height": 32}, {"width": 16, "height": 24}],
    "maintainAspectRatio": True,
    "fit": "cover",
    "gravity": {"x": 0.95, "y": 0.5},
    "writeManifest": False,
}
SUBJECT = (220, 20, 30)  # a red block at the right edge of a grey image: only a right crop keeps it


def _image() -> bytes:
    image = Image.new("RGB", (160, 40), (128, 128, 128))
    image.paste(SUBJECT, (140, 0, 160, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    config = DeploymentConfig.from_cdk_json()
    config = config.model_copy(update={"defaultRecipe": DefaultRecipe.model_validate(RECIPE)})
    with LocalAws(config, time_scale=0.0) as engine:
        yield engine


def _renditions(aws: LocalAws) -> dict[str, bytes]:
    """Every object under the output prefix, by key (`<prefix><source stem>/<digest>/<name>`)."""
    bucket = aws.deployment.output_bucket
    found = {}
    pages = aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=aws.config.outputPrefix)
    for page in pages:
        for item in page.get("Contents", []):
            found[item["Key"]] = aws.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def _name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _backfill(aws: LocalAws, prefix: str) -> Any:
    bucket = aws.deployment.input_bucket
    recipe = parse_recipe(None, aws.config)  # what `imgpipe backfill` sends without --recipe
    arn = aws.start_execution("backfill", {"bucket": bucket, "prefix": prefix, "recipe": recipe})
    described = aws.wait(arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    details = json.loads(described["output"])["ResultWriterDetails"]
    return read_report(aws.s3, details["Bucket"], details["Key"], source_bucket=bucket)


def test_a_backfill_renders_what_the_upload_rendered_with_the_same_recipe(aws: LocalAws) -> None:
    body = _image()
    upload_key = f"{aws.config.inputPrefix}sample/wide.png"
    before = len(aws.trigger_deliveries)
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=upload_key, Body=body)
    (delivery,) = aws.trigger_deliveries[before:]
    described = aws.wait(delivery.execution_arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    uploaded = _renditions(aws)
    assert len(uploaded) == 4  # 2 formats x 2 sizes, no manifest (writeManifest false)

    # The same object, backfilled: every rendition is found where the upload wrote it.
    again = _backfill(aws, upload_key)
    assert (again.items, again.succeeded, again.failed, again.skipped, again.renditions) == (1, 1, 0, 1, 0)
    assert _renditions(aws) == uploaded

    # A copy under another prefix: rendered by the backfill, the same bytes under the same names.
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key="archive/sample/wide.png", Body=body)
    copied = _backfill(aws, "archive/sample/")
    assert (copied.items, copied.failed, copied.renditions) == (1, 0, 4)
    backfilled = {key: data for key, data in _renditions(aws).items() if key not in uploaded}
    assert sorted(map(_name, backfilled)) == sorted(map(_name, uploaded))  # no manifest either
    by_name = {_name(key): data for key, data in uploaded.items()}
    for key, data in backfilled.items():
        assert data == by_name[_name(key)], key
        with Image.open(io.BytesIO(data)) as rendition:
            width, height = rendition.size
            pixels = rendition.convert("RGB")
            right, left = pixels.getpixel((width - 1, height // 2)), pixels.getpixel((0, height // 2))
        assert f"{width}x{height}" == _name(key).split(".")[0]  # cover: exactly the box
        assert right[0] > 180 > right[1]  # the subject at the focal point survived the crop
        assert abs(left[0] - 128) < 20  # and the crop is the right end, not the centre
    # the sources are untouched
    for key in (upload_key, "archive/sample/wide.png"):
        assert aws.s3.get_object(Bucket=aws.deployment.input_bucket, Key=key)["Body"].read() == body
