"""The S3 user metadata that marks a published rendition (what upload_toS3 verifies)."""

from __future__ import annotations

from urllib.parse import quote

SOURCE = "imgpipe-source"
DIGEST = "imgpipe-digest"
RECIPE = "imgpipe-recipe"
SIZE = "imgpipe-size"  # "<width>x<height>" of the rendition: a skipped rendition reports it from a HEAD
MAX_VALUE = 1024  # S3 allows 2 KB of user metadata in total; stay well inside it


def rendition_metadata(
    source_location: str,
    digest: str,
    recipe_json: str | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, str]:
    """ASCII-only values (S3 requirement): the source is percent-encoded and truncated."""
    metadata = {SOURCE: quote(source_location, safe=":/?&=#@%+,;~")[:MAX_VALUE], DIGEST: digest}
    if recipe_json is not None:
        metadata[RECIPE] = recipe_json[:MAX_VALUE]
    if size is not None:
        metadata[SIZE] = f"{size[0]}x{size[1]}"
    return metadata


def rendition_size(metadata: dict[str, str]) -> tuple[int, int] | None:
    """The SIZE a rendition was written with, or None (absent or not `<w>x<h>`)."""
    width, _, height = metadata.get(SIZE, "").partition("x")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None
