"""The S3 trigger in the local runtime announces what S3 announces and the run reads exactly that object:
with `uploads/a+b.png` and `uploads/a b.png` both present each upload renders its own image; a multipart
upload (boto3 `upload_file` over the multipart threshold) starts one run, reason
CompleteMultipartUpload, rendered from the complete object; a copy is announced once, as CopyObject;
deletes, tags and ACLs start nothing. Renditions are decoded and compared with a plain Pillow reading
of the source."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from boto3.s3.transfer import TransferConfig
from PIL import Image, ImageChops, ImageStat

from imgpipe.local.engine import LocalAws, TriggerDelivery
from imgpipe.local.results import published_objects
from lambdas.adapters import s3 as s3_adapter
from tests.support import images

pytestmark = pytest.mark.slow

GUARD_SECONDS = 180  # a hang guard for the wait, not a performance threshold
MB = 1024 * 1024
# Mean absolute difference per channel (0-255) between a rendition and the source resized by Pillow:
# lossy encoders stay well under SAME; the other generated image is far above OTHER.
SAME, OTHER = 12.0, 30.0


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws(time_scale=0.0) as engine:
        yield engine


def _deliveries_of(aws: LocalAws, action: Callable[[], Any]) -> list[TriggerDelivery]:
    before = len(aws.trigger_deliveries)
    action()
    return aws.trigger_deliveries[before:]


def _trigger_executions(aws: LocalAws) -> set[str]:
    machine = aws.deployment.state_machine_arns[aws.config.triggerWorkflow]
    pages = aws.sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
    return {execution["executionArn"] for page in pages for execution in page["executions"]}


def _renditions(aws: LocalAws, execution_arn: str) -> list[Image.Image]:
    described = aws.wait(execution_arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    decoded = []
    for published in published_objects(aws.history(execution_arn), aws.deployment.output_bucket):
        assert published.key.startswith(aws.config.outputPrefix), published.key
        body = aws.s3.get_object(Bucket=published.bucket, Key=published.key)["Body"].read()
        with Image.open(io.BytesIO(body)) as image:
            image.load()
            decoded.append(image.convert("RGB"))
    recipe = aws.config.defaultRecipe
    assert len(decoded) == len(recipe.outputFormats) * len(recipe.outputSizes)
    return decoded


def _difference(rendition: Image.Image, source: Image.Image) -> float:
    expected = source.convert("RGB").resize(rendition.size, Image.Resampling.LANCZOS)
    return sum(ImageStat.Stat(ImageChops.difference(rendition, expected)).mean) / 3


def _assert_rendered_from(renditions: list[Image.Image], source: Image.Image, other: Image.Image) -> None:
    for rendition in renditions:
        ratio = rendition.width / rendition.height
        assert abs(ratio - source.width / source.height) < 0.01, (rendition.size, source.size)
        assert _difference(rendition, source) < SAME
        assert _difference(rendition, other) > OTHER


def test_with_a_plus_key_present_uploading_the_space_key_renders_its_own_image(aws: LocalAws) -> None:
    bucket = aws.deployment.input_bucket
    plus_image = images.photo(800, 600)
    space_image = images.photo(480, 640).transpose(Image.Transpose.ROTATE_180)
    runs = {}
    for key, image in (("uploads/a+b.png", plus_image), ("uploads/a b.png", space_image)):
        body = images.encode(image, "PNG")
        put: dict[str, Any] = {}

        def upload(key: str = key, body: bytes = body, put: dict[str, Any] = put) -> None:
            put.update(aws.s3.put_object(Bucket=bucket, Key=key, Body=body))

        (delivery,) = _deliveries_of(aws, upload)
        assert delivery.execution_arn is not None, delivery.error
        described = aws.sfn.describe_execution(executionArn=delivery.execution_arn)
        named = s3_adapter.parse_s3_uri(json.loads(described["input"])["fileLocation"])
        assert named == s3_adapter.S3Location(
            bucket, key, put["VersionId"], put["ETag"].strip('"'), len(body)
        )
        runs[key] = delivery.execution_arn
    _assert_rendered_from(_renditions(aws, runs["uploads/a b.png"]), space_image, plus_image)
    _assert_rendered_from(_renditions(aws, runs["uploads/a+b.png"]), plus_image, space_image)


def test_an_overwritten_key_still_renders_the_version_its_event_named(aws: LocalAws) -> None:
    """The second upload lands before the first run reads: each run reads its own version."""
    bucket, key = aws.deployment.input_bucket, "uploads/overwritten.png"
    first, second = images.photo(800, 600), images.photo(600, 800).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    arns = []
    for image in (first, second):
        body = images.encode(image, "PNG")

        def upload(body: bytes = body) -> None:
            aws.s3.put_object(Bucket=bucket, Key=key, Body=body)

        (delivery,) = _deliveries_of(aws, upload)
        assert delivery.execution_arn is not None, delivery.error
        arns.append(delivery.execution_arn)
    _assert_rendered_from(_renditions(aws, arns[0]), first, second)
    _assert_rendered_from(_renditions(aws, arns[1]), second, first)


def test_a_multipart_upload_starts_one_run_from_the_complete_object(aws: LocalAws, tmp_path: Path) -> None:
    bucket, key = aws.deployment.input_bucket, "uploads/large scan.bmp"
    image = images.photo(1800, 1700)
    path = tmp_path / "large.bmp"
    image.save(path, "BMP")
    size = path.stat().st_size
    assert 8 * MB < size < 10 * MB  # over `aws s3 cp`'s 8 MB threshold: a 5 MB part and the rest
    transfer = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB, use_threads=False)
    executions = _trigger_executions(aws)

    deliveries = _deliveries_of(aws, lambda: aws.s3.upload_file(str(path), bucket, key, Config=transfer))

    assert len(deliveries) == 1, [d.event["detail"]["reason"] for d in deliveries]
    (delivery,) = deliveries
    obj = delivery.event["detail"]["object"]
    assert delivery.event["detail"]["reason"] == "CompleteMultipartUpload"
    assert obj["size"] == size
    assert obj["etag"].endswith("-2")  # the ETag of an object assembled from two parts
    assert delivery.execution_arn is not None, delivery.error
    assert _trigger_executions(aws) - executions == {delivery.execution_arn}
    flipped = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)  # a different image of the same shape
    _assert_rendered_from(_renditions(aws, delivery.execution_arn), image, flipped)


def test_a_copy_is_announced_once_as_copy_object(aws: LocalAws) -> None:
    bucket = aws.deployment.input_bucket
    aws.s3.put_object(Bucket=bucket, Key="staging/photo.png", Body=images.encode(images.photo(64, 48), "PNG"))
    (delivery,) = _deliveries_of(
        aws,
        lambda: aws.s3.copy_object(
            Bucket=bucket, Key="uploads/copied.png", CopySource={"Bucket": bucket, "Key": "staging/photo.png"}
        ),
    )
    assert delivery.event["detail"]["reason"] == "CopyObject"
    assert delivery.event["detail"]["object"]["key"] == "uploads/copied.png"
    assert delivery.execution_arn is not None, delivery.error
    assert len(_renditions(aws, delivery.execution_arn)) == 4


def test_deletes_tags_and_acls_announce_no_created_object(aws: LocalAws) -> None:
    """S3 sends these as Object Deleted / Object Tags Added / Object ACL Updated, never Object Created."""
    bucket, key = aws.deployment.input_bucket, "uploads/kept.png"
    (upload,) = _deliveries_of(
        aws,
        lambda: aws.s3.put_object(Bucket=bucket, Key=key, Body=images.encode(images.photo(64, 48), "PNG")),
    )
    assert upload.execution_arn is not None
    aws.wait(upload.execution_arn, timeout_seconds=GUARD_SECONDS)
    executions = _trigger_executions(aws)
    version = aws.s3.head_object(Bucket=bucket, Key=key)["VersionId"]
    actions: list[Callable[[], Any]] = [
        lambda: aws.s3.put_object_tagging(
            Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        ),
        lambda: aws.s3.put_object_acl(Bucket=bucket, Key=key, ACL="private"),
        lambda: aws.s3.delete_object(Bucket=bucket, Key=key),  # a delete marker (versioned bucket)
        lambda: aws.s3.delete_object(Bucket=bucket, Key=key, VersionId=version),
    ]
    for action in actions:
        assert _deliveries_of(aws, action) == []
    assert _trigger_executions(aws) == executions


def test_a_hostile_key_renders_its_own_object_not_a_differently_decoded_neighbour(aws: LocalAws) -> None:
    bucket = aws.deployment.input_bucket
    key = "uploads/../été 100%+?&=#'\"\\ ☀.png"
    own = images.photo(800, 600)
    encoded = own.transpose(Image.Transpose.ROTATE_180)
    decoded_twice = own.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    neighbours = {
        s3_adapter.encode_event_key(key): encoded,  # the key as the event spells it, taken literally
        unquote_plus(key): decoded_twice,  # the key decoded once more than it should be
    }
    for neighbour, image in neighbours.items():
        aws.s3.put_object(Bucket=bucket, Key=neighbour, Body=images.encode(image, "PNG"))
    body = images.encode(own, "PNG")
    (delivery,) = _deliveries_of(aws, lambda: aws.s3.put_object(Bucket=bucket, Key=key, Body=body))
    assert delivery.execution_arn is not None, delivery.error
    renditions = _renditions(aws, delivery.execution_arn)
    for other in neighbours.values():
        _assert_rendered_from(renditions, own, other)
