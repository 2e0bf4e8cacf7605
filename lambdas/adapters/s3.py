"""S3 access with typed errors, and the two forms of an `s3://` location (docs/workers.md "S3 source
locations"): plain `s3://bucket/key` (the key exactly as written) and the event form
`s3://bucket/<key as in the S3 event>?versionId=<id>&etag=<etag>&size=<bytes>` that the upload
trigger builds, which names one version of one object.

The client is built lazily (never at import) and cached per process; `reset_client()` drops it, for
tests that start a new moto mock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Required, TypedDict
from urllib.parse import quote_plus, unquote_plus

from lambdas.core.errors import (
    ImageTooLargeError,
    SourceNotFoundError,
    SourceRefusedError,
    StorageThrottledError,
    TransientSourceError,
    WorkerError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Used with fullmatch: `$` alone would accept a trailing newline ("s3://b/k.jpg\n").
_S3_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)")
# The event form: exactly one `?`, followed by `versionId=`. A form-encoded key never holds a literal
# `?` (it is `%3F`), so a plain key is misread only if it itself ends in `?versionId=...`; such a key
# is written in the event form (docs/workers.md).
_EVENT_FORM = re.compile(r"(?P<key>[^?]+)\?(?P<query>versionId=[^?]*)")
_EVENT_PARAMETERS = ("versionId", "etag", "size")
# S3 version ids are "URL-ready" opaque strings of at most 1,024 bytes
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/versioning-workflows.html).
_VERSION_ID = re.compile(r"[A-Za-z0-9._~+=/-]{1,1024}")
_ETAG = re.compile(r"[0-9A-Za-z-]{1,64}")  # hex MD5, "<hex>-<parts>" after a multipart upload
_SIZE = re.compile(r"[0-9]{1,20}")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "404", "NotFound", "NoSuchVersion", "403", "AccessDenied"}
_THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "503",
    "TooManyRequests",
}


@dataclass(frozen=True)
class S3Location:
    """An object's bucket and real key; in the event form also the version, ETag and size it names."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None

    @property
    def uri(self) -> str:
        """The plain form: what the rendition's `sourceLocation`, stem and identity use."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def event_uri(self) -> str:
        """The event form of this location, as the trigger's input transformer writes it."""
        parts = [f"versionId={self.version_id or ''}"]
        if self.etag is not None:
            parts.append(f"etag={self.etag}")
        if self.size is not None:
            parts.append(f"size={self.size}")
        return f"s3://{self.bucket}/{encode_event_key(self.key)}?{'&'.join(parts)}"

    def describe(self) -> str:
        """The URI with the version it names, for error messages."""
        return f"{self.uri} (version {self.version_id})" if self.version_id else self.uri


@dataclass(frozen=True)
class S3Object:
    location: S3Location
    body: bytes
    etag: str
    version_id: str | None
    content_type: str | None

    @property
    def identity(self) -> str:
        return object_identity(self.location, self.etag)


def object_identity(location: S3Location, etag: str) -> str:
    """What the rendition keys digest: bucket, real key and the ETag of the version read (quotes
    stripped, so a GET and a HEAD agree). Not the version id: a re-upload of identical bytes to a
    versioned bucket is a new version with the same ETag, and gets the same renditions."""
    unquoted_etag = etag.strip('"')
    return f"{location.uri}#etag={unquoted_etag}"


def encode_event_key(key: str) -> str:
    """A key as S3 writes it in event notifications: form-encoded, `/` kept (space -> `+`)."""
    return quote_plus(key, safe="/")


def parse_s3_uri(uri: str, field: str = "fileLocation") -> S3Location:
    """Split a location into bucket, key and (event form only) the version, ETag and size it names."""
    match = _S3_URI.fullmatch(uri)
    if not match:
        raise SourceRefusedError(field, f"not a valid s3://bucket/key URI: {uri[:200]!r}")
    bucket, rest = match.group("bucket"), match.group("key")
    event_form = _EVENT_FORM.fullmatch(rest)
    if event_form is None:
        return S3Location(bucket, rest)  # the plain form: the key exactly as written, never decoded
    named = _event_parameters(event_form.group("query"), field)
    size = named.get("size")
    return S3Location(
        bucket,
        _decoded_event_key(event_form.group("key"), field),
        version_id=named.get("versionId"),
        etag=named.get("etag"),
        size=int(size) if size is not None else None,
    )


def _event_parameters(query: str, field: str) -> dict[str, str]:
    """`versionId=..[&etag=..][&size=..]` -> the non-empty values (an empty one was not in the event)."""
    patterns = {"versionId": _VERSION_ID, "etag": _ETAG, "size": _SIZE}
    values: dict[str, str] = {}
    expected = list(_EVENT_PARAMETERS)
    for part in query.split("&"):
        name, separator, value = part.partition("=")
        if not separator or name not in expected:
            raise SourceRefusedError(
                field,
                f"query {part[:40]!r}: an event-form location takes versionId, etag, size, in that order",
            )
        del expected[: expected.index(name) + 1]
        if value and not patterns[name].fullmatch(value):
            raise SourceRefusedError(f"{field}.{name}", f"not a valid S3 {name}: {value[:80]!r}")
        if value:
            values[name] = value
    return values


def _decoded_event_key(encoded: str, field: str) -> str:
    """Form-decode the key once (`+` -> space, `%XX` -> UTF-8 bytes); anything S3 would not have
    written is refused, never guessed at."""
    if _BAD_PERCENT.search(encoded):
        raise SourceRefusedError(
            field, "the key of an event-form location has a '%' that starts no %XX escape"
        )
    try:
        key = unquote_plus(encoded, errors="strict")
    except UnicodeDecodeError:
        raise SourceRefusedError(
            field, "the key of an event-form location decodes to invalid UTF-8"
        ) from None
    if not key:
        raise SourceRefusedError(field, "the key of an event-form location is empty")
    return key


_client: S3Client | None = None


def client() -> S3Client:
    """boto3 S3 client with bounded retries (Step Functions retries on top of these), built on first
    use and reused across warm invocations."""
    global _client  # noqa: PLW0603 - one client per process, as Lambda recommends
    if _client is None:
        _client = _build_client()
    return _client


def _build_client() -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="imgpipe-worker",
    )
    return boto3.client("s3", config=config)


def reset_client() -> None:
    global _client  # noqa: PLW0603
    _client = None


def _code_and_status(error: BaseException) -> tuple[str, int] | None:
    """(error code, HTTP status) of a botocore ClientError, None for any other exception."""
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return None
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def typed_error(error: Exception, field: str, location: str) -> WorkerError:
    """botocore failures -> the contract's error names. Anything botocore raises that is not an
    answer from S3 (timeouts, refused connections, a body cut short) is a transport failure:
    TransientSourceError, which the translated Retry retries."""
    from botocore.exceptions import BotoCoreError

    code_and_status = _code_and_status(error)
    if code_and_status is not None:
        code, status = code_and_status
        if code in _THROTTLED or status == 503:
            return StorageThrottledError(field, f"S3 throttled the request for {location} ({code})")
        if code in _NOT_FOUND or status in (403, 404):
            return SourceNotFoundError(field, f"{location} does not exist or access is denied ({code})")
        if status >= 500:
            return TransientSourceError(field, f"S3 error {code} ({status}) for {location}")
        return SourceRefusedError(field, f"S3 refused the request for {location}: {code}")
    if isinstance(error, BotoCoreError):
        return TransientSourceError(
            field, f"S3 transport problem for {location}: {type(error).__name__}: {error}"
        )
    raise error


def _botocore_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


@contextmanager
def _typed_errors(field: str, uri: str) -> Iterator[None]:
    """botocore's errors, raised inside, leave as the worker's typed errors for `field`."""
    try:
        yield
    except _botocore_errors() as error:
        raise typed_error(error, field, uri) from error


class _ObjectParameters(TypedDict, total=False):
    Bucket: Required[str]
    Key: Required[str]
    VersionId: str


def _object_parameters(location: S3Location) -> _ObjectParameters:
    """Bucket, Key and, when the location names one, VersionId: exactly that version or nothing."""
    parameters: _ObjectParameters = {"Bucket": location.bucket, "Key": location.key}
    if location.version_id:
        parameters["VersionId"] = location.version_id
    return parameters


def _require_named_object(location: S3Location, response: Any, field: str = "fileLocation") -> None:
    """Refuse an object that is not the one the location names (the version id, ETag and size it
    gives): SourceNotFoundError naming the part that differs, never a read of something else."""
    actual = {
        "versionId": response.get("VersionId"),
        "etag": str(response.get("ETag", "")).strip('"'),
        "size": int(response.get("ContentLength") or 0),
    }
    named = {"versionId": location.version_id, "etag": location.etag, "size": location.size}
    for name, expected in named.items():
        if expected is not None and actual[name] != expected:
            raise SourceNotFoundError(
                f"{field}.{name}",
                f"{location.describe()} has {name} {actual[name]!r}, the location names {expected!r}",
            )


def get_object(location: S3Location, *, max_bytes: int, field: str = "fileLocation") -> S3Object:
    """Read exactly the object the location names, refusing it before download when it is larger than
    `max_bytes` or not the version, ETag or size named. The key is used as given: no other spelling
    of it is ever tried."""
    with _typed_errors(field, location.describe()):
        response: Any = client().get_object(**_object_parameters(location))
        try:
            _require_named_object(location, response, field)
            length = int(response.get("ContentLength") or 0)
            if length > max_bytes:
                raise ImageTooLargeError(field, f"{length} bytes exceeds the limit of {max_bytes} bytes")
        except WorkerError:
            response["Body"].close()
            raise
        body = response["Body"].read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ImageTooLargeError(field, f"more than {max_bytes} bytes (the limit)")
    return S3Object(
        location=location,
        body=body,
        etag=str(response.get("ETag", "")).strip('"'),
        version_id=response.get("VersionId"),
        content_type=response.get("ContentType"),
    )


def head_object(location: S3Location, field: str = "fileLocation") -> dict[str, Any]:
    """HEAD of exactly the object the location names (its version; its ETag and size checked)."""
    with _typed_errors(field, location.describe()):
        head = dict(client().head_object(**_object_parameters(location)))
    _require_named_object(location, head, field)
    return head


def put_object(
    location: S3Location,
    body: bytes,
    *,
    content_type: str,
    cache_control: str,
    metadata: dict[str, str],
    field: str = "fileLocation",
) -> None:
    with _typed_errors(field, location.uri):
        client().put_object(
            Bucket=location.bucket,
            Key=location.key,
            Body=body,
            ContentType=content_type,
            CacheControl=cache_control,
            Metadata=metadata,
        )


def copy_object(
    source: S3Location,
    destination: S3Location,
    *,
    content_type: str,
    cache_control: str,
    metadata: dict[str, str],
    field: str = "fileLocation",
) -> None:
    """Server-side copy of exactly the source version named, with the publication headers (one
    request, no download)."""
    with _typed_errors(field, source.describe()):
        client().copy_object(
            Bucket=destination.bucket,
            Key=destination.key,
            CopySource=_object_parameters(source),
            MetadataDirective="REPLACE",
            ContentType=content_type,
            CacheControl=cache_control,
            Metadata=metadata,
        )


def https_url(location: S3Location) -> str:
    """The object's virtual-hosted-style URL in the client's region."""
    from urllib.parse import quote

    region = client().meta.region_name or "us-east-1"
    return f"https://{location.bucket}.s3.{region}.amazonaws.com/{quote(location.key)}"
