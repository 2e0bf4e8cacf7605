"""One entry point for reading a source: `s3://bucket/key` (or its event form, which names one object
version: `lambdas.adapters.s3`), `https://...`, or (local runtime only) a path.

`check_location` is the only place the kind of a location is decided and its static rules (URI shape,
https rules, ALLOWED_URL_HOSTS, LOCAL_FILES_ROOT) are applied: the planner calls it before fanning
out, and `read_source` calls it before any I/O.

The https adapter (`lambdas.adapters.fetch`: SSRF checks, address parsing, its urllib3 pool) is
imported only when a location is an https URL: most invocations read from S3 and never need it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from lambdas.adapters import s3
from lambdas.core.errors import ImageTooLargeError, SourceNotFoundError, SourceRefusedError
from lambdas.settings import LocalFilesSettings, LocationSettings, SourceSettings

if TYPE_CHECKING:
    from lambdas.adapters import fetch


@dataclass(frozen=True)
class SourceData:
    location: str
    identity: str  # what the output key digests: bucket+key+ETag, or URL/path plus the content hash
    body: bytes


@dataclass(frozen=True)
class LocalPath:
    path: str


CheckedLocation: TypeAlias = "s3.S3Location | fetch.Target | LocalPath"


def is_local_path(location: str) -> bool:
    return "://" not in location


def local_path_in_root(location: str, settings: LocalFilesSettings, field: str = "fileLocation") -> Path:
    """The local file a location names, if it lies under LOCAL_FILES_ROOT; refused otherwise.

    The refusal is the same whether or not the path exists and comes before any read, so an endpoint
    caller learns nothing about the host's files. Symlinks and `..` are resolved before the check.
    """
    refusal = (
        "local paths are read only by `imgpipe run` or under `imgpipe serve --files-root DIR` "
        "(LOCAL_FILES_ROOT); use s3://"
    )
    if not settings.local_files_root:
        raise SourceRefusedError(field, refusal)
    try:
        root = Path(settings.local_files_root).resolve()
        path = Path(location).resolve()
    except (OSError, ValueError):
        raise SourceRefusedError(field, refusal) from None
    if not path.is_relative_to(root):
        raise SourceRefusedError(field, f"{refusal}: the path is outside the files root")
    return path


def check_location(location: str, settings: LocationSettings, field: str = "fileLocation") -> CheckedLocation:
    """Refuse a location that can never be read (no I/O); say which kind it is."""
    if location.startswith("s3://"):
        return s3.parse_s3_uri(location, field)
    if location[:8].lower() == "https://":
        from lambdas.adapters import fetch  # lazy: only https sources need it (module docstring)

        target = fetch.parse_target(location, field)
        fetch.require_host_allowed(target, settings.allowed_url_hosts, field)
        return target
    if not is_local_path(location):
        scheme = location.split("://", 1)[0][:16]
        raise SourceRefusedError(field, f"unsupported scheme {scheme!r}; use s3:// or https://")
    return LocalPath(str(local_path_in_root(location, settings, field)))


def read_local(location: str, max_bytes: int, field: str = "fileLocation") -> bytes:
    """A file's bytes; `location` has been checked by `local_path_in_root`."""
    path = Path(location)
    if not path.is_file():
        raise SourceNotFoundError(field, f"no such file: {location}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ImageTooLargeError(field, f"{size} bytes exceeds the limit of {max_bytes} bytes")
    return path.read_bytes()


def content_hash(body: bytes) -> str:
    return f"sha256={hashlib.sha256(body).hexdigest()}"


def read_source(location: str, settings: SourceSettings, field: str = "fileLocation") -> SourceData:
    """Fetch the source bytes and their identity, enforcing the byte cap and the location rules."""
    checked = check_location(location, settings, field)
    if isinstance(checked, s3.S3Location):
        obj = s3.get_object(checked, max_bytes=settings.max_source_bytes, field=field)
        # The plain location of the object read: an event-form location and a plain one naming the
        # same object give the same sourceLocation, stem and identity, hence the same rendition keys.
        return SourceData(obj.location.uri, obj.identity, obj.body)
    if isinstance(checked, LocalPath):
        body = read_local(checked.path, settings.max_source_bytes, field)
        return SourceData(location, content_hash(body), body)
    from lambdas.adapters import fetch  # an https Target: check_location has imported it already

    policy = fetch.FetchPolicy(max_bytes=settings.max_source_bytes, allowed_hosts=settings.allowed_url_hosts)
    fetched = fetch.fetch(location, policy, field)
    # A URL's content can change while the URL does not; renditions are cached as immutable, so
    # the identity includes the bytes: new content, new key, never an overwrite in place.
    return SourceData(location, f"url={fetched.url};{content_hash(fetched.body)}", fetched.body)
