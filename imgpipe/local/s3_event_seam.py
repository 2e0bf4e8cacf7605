"""The second (and last) place imgpipe reaches into moto's internals: S3's EventBridge notifications.

moto builds its own S3 -> EventBridge event (a fixed sequencer, the key not URL-encoded) and can
deliver it only to log groups, archives, queues and buses, not to a Step Functions target. This
module replaces moto's ``_send_event_bridge_message`` so that every object created in a bucket with
EventBridge notifications turned on (as the stack turns them on for the input bucket) is handed to
a listener; the local engine builds the documented event with ``imgpipe.trigger`` and delivers it.

S3 sends one "Object Created" event per created object, whose ``reason`` is the API that created it:
PutObject, POST Object, CopyObject or CompleteMultipartUpload
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html). moto's
``complete_multipart_upload`` stores the assembled object through its own ``put_object``, which
announces it as a PutObject before the CompleteMultipartUpload announcement: the first of the two is
dropped here (a PutObject of an object assembled from parts), so a multipart upload starts one run.

GetBucketNotificationConfiguration answers the bucket's ``EventBridgeConfiguration`` (an empty
element when EventBridge is on, as S3 returns it:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html); moto
stores it but leaves it out of its answer, so the input bucket's configuration read back empty.

``verify_moto_s3_internals()`` fails loudly, and a test runs it, if moto moves what is patched here.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import MotoInternalsChanged

S3_NOTIFICATIONS = "moto.s3.notifications"
S3_MODELS = "moto.s3.models"
S3_RESPONSES = "moto.s3.responses"
NOTIFICATION_ANSWER = "get_bucket_notification"
EVENTBRIDGE_ELEMENT = "<EventBridgeConfiguration></EventBridgeConfiguration>"
_EMPTY_CONFIGURATION = re.compile(r"(<NotificationConfiguration\b[^>]*?)\s*/>\s*$")
CLOSING_TAG = "</NotificationConfiguration>"
PUT_EVENT = "s3:ObjectCreated:Put"
PATCHED_FUNCTION = "_send_event_bridge_message"
EXPECTED_PARAMETERS = ("account_id", "bucket", "event_name", "key")
# moto's S3 event names -> the `reason` S3 puts in the EventBridge event.
REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "PostObject",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreatedObject:
    """What S3 knows about an object when it announces it."""

    account: str
    region: str
    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    reason: str


Listener = Callable[[CreatedObject], None]


def verify_moto_s3_internals() -> None:
    """Check the moto function this seam replaces still exists with the parameters it expects."""
    try:
        module = importlib.import_module(S3_NOTIFICATIONS)
    except ImportError as error:
        raise MotoInternalsChanged(f"moto module {S3_NOTIFICATIONS} is gone: {error}") from error
    function = getattr(module, PATCHED_FUNCTION, None)
    if function is None or not hasattr(module, "send_event"):
        raise MotoInternalsChanged(f"moto's {S3_NOTIFICATIONS}: no {PATCHED_FUNCTION} or send_event any more")
    parameters = tuple(inspect.signature(function).parameters)
    if parameters != EXPECTED_PARAMETERS:
        raise MotoInternalsChanged(
            f"moto's {S3_NOTIFICATIONS}.{PATCHED_FUNCTION} takes {parameters}, expected {EXPECTED_PARAMETERS}"
        )
    put_event = getattr(module.S3NotificationEvent, "OBJECT_CREATED_PUT_EVENT", None)
    if put_event is None or getattr(put_event, "value", put_event) not in REASONS:
        raise MotoInternalsChanged("moto's S3NotificationEvent.OBJECT_CREATED_PUT_EVENT moved")
    fake_key = getattr(importlib.import_module(S3_MODELS), "FakeKey", None)
    if fake_key is None or "multipart" not in inspect.signature(fake_key).parameters:
        raise MotoInternalsChanged(f"moto's {S3_MODELS}.FakeKey no longer takes `multipart`")
    responses = getattr(importlib.import_module(S3_RESPONSES), "S3Response", None)
    if not callable(getattr(responses, NOTIFICATION_ANSWER, None)):
        raise MotoInternalsChanged(f"moto's {S3_RESPONSES}.S3Response.{NOTIFICATION_ANSWER} moved")
    configuration = getattr(importlib.import_module(S3_MODELS), "NotificationConfiguration", None)
    if configuration is None or "event_bridge" not in inspect.signature(configuration).parameters:
        raise MotoInternalsChanged(f"moto's {S3_MODELS}.NotificationConfiguration has no event_bridge")


def is_part_of_multipart_completion(event_name: str, key: Any) -> bool:
    """moto's inner PutObject announcement of an object that CompleteMultipartUpload assembled (its
    FakeKey keeps the multipart upload); the completion announces the object itself."""
    return event_name == PUT_EVENT and getattr(key, "multipart", None) is not None


def with_eventbridge_configuration(body: str) -> str:
    """moto's GetBucketNotificationConfiguration XML with the EventBridgeConfiguration element added."""
    if "<EventBridgeConfiguration" in body:
        return body
    empty = _EMPTY_CONFIGURATION.search(body)
    if empty is not None:  # <NotificationConfiguration xmlns="..."/>
        return body[: empty.start()] + empty.group(1) + ">" + EVENTBRIDGE_ELEMENT + CLOSING_TAG
    head, found, tail = body.rpartition(CLOSING_TAG)
    return head + EVENTBRIDGE_ELEMENT + CLOSING_TAG + tail if found else body


def _notification_answer(original: Any) -> Any:
    def get_bucket_notification(self: Any) -> Any:
        answer = original(self)
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if getattr(configuration, "event_bridge", None) is None or not isinstance(answer, tuple):
            return answer
        status, headers, body = answer
        return status, headers, with_eventbridge_configuration(str(body))

    return get_bucket_notification


@contextmanager
def install(listener: Listener) -> Iterator[None]:
    """Hand every object created in an EventBridge-enabled bucket to ``listener``.

    As on AWS, delivery never fails the PutObject: a listener error is logged and dropped.
    """
    verify_moto_s3_internals()
    module = importlib.import_module(S3_NOTIFICATIONS)

    def announce(account_id: str, bucket: Any, event_name: Any, key: Any) -> None:
        name = str(getattr(event_name, "value", event_name))  # moto passes a str-valued Enum
        if ":ObjectCreated:" not in name or is_part_of_multipart_completion(name, key):
            return
        created = CreatedObject(
            account=account_id,
            region=bucket.region_name,
            bucket=bucket.name,
            key=key.name,
            size=int(key.size),
            etag=str(key.etag).strip('"'),
            version_id=key.version_id if getattr(bucket, "is_versioned", False) else None,
            reason=REASONS.get(name, "PutObject"),
        )
        try:
            listener(created)
        except Exception:  # an asynchronous delivery on AWS: never fails the upload
            logger.exception("S3 event delivery for s3://%s/%s failed", created.bucket, created.key)

    responses = importlib.import_module(S3_RESPONSES).S3Response
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(module, PATCHED_FUNCTION, announce))
        stack.enter_context(
            mock.patch.object(
                responses, NOTIFICATION_ANSWER, _notification_answer(getattr(responses, NOTIFICATION_ANSWER))
            )
        )
        yield
