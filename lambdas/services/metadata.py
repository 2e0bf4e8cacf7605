"""The S3 user metadata that marks a published rendition (what upload_toS3 verifies)."""

from __future__ import annotations

from urllib.parse import quote

SOURCE = "imgpipe-source"
DIGEST = "imgpipe-digest"
RECIPE = "imgpipe-recipe"
MAX_VALUE = 1024  # S3 allows 2 KB of user metadata in total; stay well inside it


def rendition_metadata(source_location: str, digest: str, recipe_json: str | None = None) -> dict[str, str]:
    """ASCII-only values (S3 requirement): the source is percent-encoded and truncated."""
    metadata = {SOURCE: quote(source_location, safe=":/?&=#@%+,;~")[:MAX_VALUE], DIGEST: digest}
    if recipe_json is not None:
        metadata[RECIPE] = recipe_json[:MAX_VALUE]
    return metadata
