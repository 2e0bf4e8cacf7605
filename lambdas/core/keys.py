"""Deterministic output keys: the same source and the same normalised recipe always name the same
object, so a retry or a duplicate event overwrites a rendition instead of adding one.

Layout: `<OUTPUT_PREFIX><source-stem>/<digest16>/<width>x<height>.<ext>`, where the digest covers
the source identity (S3 bucket+key+ETag, normalised URL + body sha256, or a local file's
sha256) and the recipe's canonical JSON (which includes the renderer version). A source's manifest
for one recipe set is `<OUTPUT_PREFIX><source-stem>/<digest16>/manifest.json` beside them, its
digest over the identity, the manifest format's version and every recipe in plan order.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from lambdas.core.recipe import Recipe

DIGEST_LENGTH = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RENDITION = re.compile(
    rf"(?P<stem>[A-Za-z0-9._-]{{1,64}})/(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})/(?P<name>[^/]+)"
)


def source_stem(location: str) -> str:
    """A short, URL-safe name from the source's last path segment ('IMG 01.jpeg' -> 'IMG-01')."""
    stem = PurePosixPath(location_path(location).rsplit("/", 1)[-1]).stem
    cleaned = _UNSAFE.sub("-", stem).strip("-.")[:64].strip("-.")
    return cleaned or "image"


def rendition_digest(source_identity: str, recipe: Recipe) -> str:
    material = f"{source_identity}\n{recipe.canonical_json()}".encode()
    return hashlib.sha256(material).hexdigest()[:DIGEST_LENGTH]


def rendition_key(prefix: str, source_location: str, source_identity: str, recipe: Recipe) -> str:
    digest = rendition_digest(source_identity, recipe)
    name = f"{recipe.width}x{recipe.height}.{recipe.output.extension}"
    return f"{prefix}{source_stem(source_location)}/{digest}/{name}"


MANIFEST_NAME = "manifest.json"
# Bump when the manifest's content changes for the same renditions, so new manifests get new keys.
MANIFEST_VERSION = "1"


def manifest_digest(source_identity: str, recipes: Sequence[Recipe]) -> str:
    lines = [
        source_identity,
        f"manifest v{MANIFEST_VERSION}",
        *(recipe.canonical_json() for recipe in recipes),
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:DIGEST_LENGTH]


def manifest_key(prefix: str, source_location: str, source_identity: str, recipes: Sequence[Recipe]) -> str:
    """Where the manifest of `recipes` (in plan order) rendered from this source is written."""
    digest = manifest_digest(source_identity, recipes)
    return f"{prefix}{source_stem(source_location)}/{digest}/{MANIFEST_NAME}"


def published_digest(source_identity: str) -> str:
    """The digest segment of `published_key`, which upload_toS3 also writes as the imgpipe-digest
    metadata: key and metadata come from this one function, so a re-publish verifies in place."""
    return hashlib.sha256(source_identity.encode()).hexdigest()[:DIGEST_LENGTH]


def published_key(prefix: str, source_location: str, source_identity: str) -> str:
    """Key for publishing a file that was not rendered in place (another bucket, a local path)."""
    digest = published_digest(source_identity)
    name = PurePosixPath(location_path(source_location)).name
    suffix = PurePosixPath(name).suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""
    return f"{prefix}{source_stem(source_location)}/{digest}/{source_stem(name)}{suffix}"


def location_path(location: str) -> str:
    """The location without query, fragment or trailing slash."""
    return location.split("?", 1)[0].split("#", 1)[0].rstrip("/")


def rendition_digest_in_key(prefix: str, key: str) -> str | None:
    """The digest segment when `key` has the rendition layout under `prefix`, else None."""
    if not key.startswith(prefix):
        return None
    match = _RENDITION.fullmatch(key[len(prefix) :])
    return match.group("digest") if match else None
