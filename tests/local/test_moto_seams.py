"""The moto internals the S3 event seam patches are where it expects them."""

from __future__ import annotations

import pytest

from imgpipe.local import s3_event_seam
from imgpipe.local.lambda_seam import MotoInternalsChanged

BUCKET = "imgpipe-seam-input"


def test_moto_s3_eventbridge_internals_are_where_the_seam_expects_them() -> None:
    s3_event_seam.verify_moto_s3_internals()


def test_the_check_fails_loudly_when_moto_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.s3.notifications as notifications

    monkeypatch.delattr(notifications, s3_event_seam.PATCHED_FUNCTION)
    with pytest.raises(MotoInternalsChanged, match=s3_event_seam.PATCHED_FUNCTION):
        s3_event_seam.verify_moto_s3_internals()


def test_the_check_fails_loudly_when_moto_keys_forget_their_multipart_upload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import moto.s3.models as models

    class KeyWithoutMultipart:
        def __init__(self, name: str) -> None:
            self.name = name

    monkeypatch.setattr(models, "FakeKey", KeyWithoutMultipart)
    with pytest.raises(MotoInternalsChanged, match="multipart"):
        s3_event_seam.verify_moto_s3_internals()


def test_each_created_object_is_announced_once_with_the_api_that_created_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S3 sends one Object Created event per object, reason PutObject, CopyObject or
    CompleteMultipartUpload (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html);
    creating a multipart upload and uploading its parts announce nothing."""
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    announced: list[s3_event_seam.CreatedObject] = []
    part = 5 * 1024 * 1024  # S3's minimum size of every part but the last
    with mock_aws(), s3_event_seam.install(announced.append):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        s3.put_object(Bucket=BUCKET, Key="put.bin", Body=b"p")
        s3.copy_object(Bucket=BUCKET, Key="copy.bin", CopySource={"Bucket": BUCKET, "Key": "put.bin"})
        upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="multi.bin")["UploadId"]
        etags = [
            s3.upload_part(Bucket=BUCKET, Key="multi.bin", UploadId=upload_id, PartNumber=n, Body=body)[
                "ETag"
            ]
            for n, body in ((1, b"a" * part), (2, b"b"))
        ]
        assert [created.key for created in announced] == ["put.bin", "copy.bin"]
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key="multi.bin",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]
            },
        )
    assert [(created.key, created.reason) for created in announced] == [
        ("put.bin", "PutObject"),
        ("copy.bin", "CopyObject"),
        ("multi.bin", "CompleteMultipartUpload"),
    ]
    assert announced[-1].size == part + 1
    assert announced[-1].etag.endswith("-2")
