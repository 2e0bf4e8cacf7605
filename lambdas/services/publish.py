"""upload_toS3: publish a rendition. Renditions written by image_convert_resize are already at their
final key, so publishing them is one HEAD (verify) and no write; anything elsewhere is copied in."""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

from lambdas.adapters import s3
from lambdas.adapters.sources import is_local_path, local_path_in_root, read_local
from lambdas.core.errors import SourceRefusedError
from lambdas.core.inputs import UploadInput, build_validators, parse_event
from lambdas.core.keys import published_digest, published_key, rendition_digest_in_key
from lambdas.services import metadata as meta
from lambdas.settings import UploadSettings

FIELD = "fileLocation"
build_validators(UploadInput)  # at init: the input models are deferred (lambdas.core.inputs)


def publish(event: Any, settings: UploadSettings) -> dict[str, Any]:
    location = parse_event(event, UploadInput).fileLocation
    bucket = settings.require_output_bucket()
    if location.startswith("s3://"):
        destination = _publish_s3(s3.parse_s3_uri(location, FIELD), bucket, settings)
    elif is_local_path(location):
        destination = _publish_local(location, bucket, settings)
    else:
        raise SourceRefusedError(
            FIELD, "upload_toS3 publishes s3:// objects or local files; render URLs with image_convert_resize"
        )
    return {"fileLocation": destination.uri, "s3Url": s3.https_url(destination)}


def _publish_s3(source: s3.S3Location, bucket: str, settings: UploadSettings) -> s3.S3Location:
    head = s3.head_object(source, FIELD)
    existing = {key.lower(): value for key, value in (head.get("Metadata") or {}).items()}
    expected_digest = rendition_digest_in_key(settings.output_prefix, source.key)
    if source.bucket == bucket and expected_digest is not None:
        if existing.get(meta.DIGEST) != expected_digest:
            raise SourceRefusedError(
                FIELD,
                f"{source.uri} is at the output location but its {meta.DIGEST} metadata "
                f"is {existing.get(meta.DIGEST)!r}, expected {expected_digest!r}",
            )
        return source  # already published in place by image_convert_resize: no write at all
    identity = s3.object_identity(source, str(head.get("ETag", "")))
    destination = s3.S3Location(bucket, published_key(settings.output_prefix, source.key, identity))
    content_type = head.get("ContentType") or _guess_type(source.key)
    s3.copy_object(
        source,
        destination,
        content_type=content_type,
        cache_control=settings.cache_control,
        # The digest of the key it is published at, so publishing the copy again verifies in place.
        metadata=meta.rendition_metadata(existing.get(meta.SOURCE) or source.uri, published_digest(identity)),
        field=FIELD,
    )
    return destination


def _publish_local(location: str, bucket: str, settings: UploadSettings) -> s3.S3Location:
    body = read_local(str(local_path_in_root(location, settings, FIELD)), settings.max_source_bytes, FIELD)
    identity = f"sha256={hashlib.sha256(body).hexdigest()}"
    destination = s3.S3Location(bucket, published_key(settings.output_prefix, location, identity))
    s3.put_object(
        destination,
        body,
        content_type=_sniff_type(body, settings) or _guess_type(location),
        cache_control=settings.cache_control,
        metadata=meta.rendition_metadata(location, published_digest(identity)),
        field=FIELD,
    )
    return destination


def _sniff_type(body: bytes, settings: UploadSettings) -> str | None:
    """The content type of an image in an allowed format, from its header (no pixel decoding), under
    the same limits as any source: a rendition is far inside them. Pillow is imported here only: the
    S3 path of upload_toS3 never needs it at cold start."""
    from lambdas.core.decode import open_untrusted

    image = open_untrusted(body, settings.decode_limits(), FIELD)
    return image.get_format_mimetype() if hasattr(image, "get_format_mimetype") else None


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
