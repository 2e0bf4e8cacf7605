"""The manifest of one source and recipe set: every rendition, `srcset` strings, a placeholder.

A page renders `<img srcset=...>` (or `<picture>` with one `<source type=...>` per format) from it
without listing the bucket. Its bytes depend only on the source and the recipes: renditions in plan
order, fields in a fixed order, no timestamps, no "skipped" flags, JSON with ASCII escapes (keys and
URLs are user input and stay JSON strings, never markup), so a re-run writes the same object.
Format: docs/workers.md, "Rendition manifest".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from lambdas.core.keys import MANIFEST_VERSION
from lambdas.core.placeholder import Placeholder

CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ManifestRendition:
    """One published rendition as the manifest lists it."""

    location: str  # s3://bucket/key
    key: str
    url: str  # https, the key percent-encoded: no space or comma can split a srcset candidate
    format: str  # canonical recipe format name
    content_type: str
    width: int
    height: int
    bytes: int
    requested: tuple[int, int]

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "fileLocation": self.location,
            "url": self.url,
            "format": self.format,
            "contentType": self.content_type,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "requestedWidth": self.requested[0],
            "requestedHeight": self.requested[1],
        }


def srcsets(renditions: Sequence[ManifestRendition]) -> dict[str, str]:
    """Per format, `"<url> <width>w, ..."` from the narrowest rendition up. Two renditions of one
    format and width would repeat a width descriptor, which HTML forbids: the first in plan order
    is kept."""
    by_format: dict[str, dict[int, str]] = {}
    for rendition in renditions:
        by_format.setdefault(rendition.format, {}).setdefault(rendition.width, rendition.url)
    return {
        fmt: ", ".join(f"{url} {width}w" for width, url in sorted(widths.items()))
        for fmt, widths in by_format.items()
    }


def manifest(
    *,
    source_location: str,
    source_size: tuple[int, int],
    source_format: str,
    placeholder: Placeholder,
    renditions: Sequence[ManifestRendition],
) -> dict[str, object]:
    width, height = source_size
    return {
        "manifestVersion": int(MANIFEST_VERSION),
        "source": {
            "fileLocation": source_location,
            "format": source_format,
            "width": width,
            "height": height,
        },
        "placeholder": placeholder.as_json(),
        "renditions": [rendition.as_json() for rendition in renditions],
        "srcset": srcsets(renditions),
    }


def manifest_bytes(document: dict[str, object]) -> bytes:
    """The bytes written: indented, ASCII (non-ASCII keys as \\u escapes), one final newline."""
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")
