"""S3 access with typed errors. The client is built lazily (never at import) and cached per process;
`reset_client()` drops it, for tests that start a new moto mock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from lambdas.core.errors import (
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
_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
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
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class S3Object:
    location: S3Location
    body: bytes
    etag: str
    version_id: str | None
    content_type: str | None

    @property
    def identity(self) -> str:
        return object_identity(self.location, self.etag, self.version_id)


def object_identity(location: S3Location, etag: str, version_id: str | None) -> str:
    """What makes an object's content unique: the version if the bucket is versioned, else the ETag
    (quotes stripped, so a GET and a HEAD of the same object agree)."""
    unquoted_etag = etag.strip('"')
    version = f"version={version_id}" if version_id else f"etag={unquoted_etag}"
    return f"{location.uri}#{version}"


def parse_s3_uri(uri: str, field: str = "fileLocation") -> S3Location:
    match = _S3_URI.fullmatch(uri)
    if not match:
        raise SourceRefusedError(field, f"not a valid s3://bucket/key URI: {uri[:200]!r}")
    return S3Location(match.group("bucket"), match.group("key"))


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


def _is_missing_key(error: BaseException) -> bool:
    code_and_status = _code_and_status(error)
    if code_and_status is None:
        return False
    code, status = code_and_status
    return code in _MISSING_KEY or status == 404


def form_decoded(location: S3Location) -> S3Location | None:
    """The location with its key form-decoded (`+` -> space, `%XX` -> byte), or None if unchanged.

    S3 event notifications carry form-encoded keys; EventBridge's may too (docs/deploy.md)."""
    decoded = unquote_plus(location.key)
    return S3Location(location.bucket, decoded) if decoded and decoded != location.key else None


def get_object(location: S3Location, *, max_bytes: int, field: str = "fileLocation") -> S3Object:
    """Read an object, refusing it before download when it is larger than `max_bytes`.

    The key is used as given. Only when S3 says it does not exist (NoSuchKey/404, never 403 or any
    other error) and the form-decoded key differs, the decoded key is tried once: a literal `+` in a
    key and a `+`-encoded space both work, and nothing is ever guessed twice."""
    try:
        return _get_object(location, max_bytes=max_bytes, field=field)
    except SourceNotFoundError as error:
        cause = error.__cause__
        decoded = form_decoded(location)
        if decoded is None or cause is None or not _is_missing_key(cause):
            raise
    return _get_object(decoded, max_bytes=max_bytes, field=field)


def _get_object(location: S3Location, *, max_bytes: int, field: str) -> S3Object:
    from lambdas.core.errors import ImageTooLargeError

    with _typed_errors(field, location.uri):
        response: Any = client().get_object(Bucket=location.bucket, Key=location.key)
        length = int(response.get("ContentLength") or 0)
        if length > max_bytes:
            response["Body"].close()
            raise ImageTooLargeError(field, f"{length} bytes exceeds the limit of {max_bytes} bytes")
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
    with _typed_errors(field, location.uri):
        return dict(client().head_object(Bucket=location.bucket, Key=location.key))


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
    """Server-side copy with the publication headers (one request, no download)."""
    with _typed_errors(field, source.uri):
        client().copy_object(
            Bucket=destination.bucket,
            Key=destination.key,
            CopySource={"Bucket": source.bucket, "Key": source.key},
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
