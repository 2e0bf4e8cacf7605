"""Deterministic output keys."""

from __future__ import annotations

import pytest

from lambdas.core.keys import published_key, rendition_digest_in_key, rendition_key, source_stem
from lambdas.core.recipe import Recipe

RECIPE = Recipe(format="webp", width=300, height=200, fit="contain", quality=80)


@pytest.mark.parametrize(
    ("location", "stem"),
    [
        ("s3://b/uploads/holiday photo.jpg", "holiday-photo"),
        ("https://img.example.com/a/b/IMG_01.JPEG?x=1#frag", "IMG_01"),
        ("/tmp/x/../weird name (1).png", "weird-name-1"),
        ("s3://b/uploads/..jpg", "image"),
        ("s3://b/" + "é" * 10 + ".png", "image"),
        ("s3://b/" + "a" * 300 + ".png", "a" * 64),
    ],
)
def test_source_stem_is_short_and_url_safe(location: str, stem: str) -> None:
    assert source_stem(location) == stem


def test_rendition_key_layout_and_determinism() -> None:
    key = rendition_key("renditions/", "s3://b/u/cat.jpg", "s3://b/u/cat.jpg#etag=abc", RECIPE)
    assert key == rendition_key("renditions/", "s3://b/u/cat.jpg", "s3://b/u/cat.jpg#etag=abc", RECIPE)
    prefix, stem, digest, name = key.split("/")
    assert (prefix, stem, name) == ("renditions", "cat", "300x200.webp")
    assert len(digest) == 16
    assert rendition_digest_in_key("renditions/", key) == digest


def test_key_changes_with_source_version_and_recipe() -> None:
    base = rendition_key("p/", "s3://b/cat.jpg", "s3://b/cat.jpg#etag=1", RECIPE)
    assert rendition_key("p/", "s3://b/cat.jpg", "s3://b/cat.jpg#etag=2", RECIPE) != base
    other = Recipe(format="webp", width=300, height=200, fit="cover", quality=80)
    assert rendition_key("p/", "s3://b/cat.jpg", "s3://b/cat.jpg#etag=1", other) != base


@pytest.mark.parametrize(
    "key", ["other/cat/0123456789abcdef/1x1.png", "renditions/cat/0123/1x1.png", "renditions/a/b/c/d.png"]
)
def test_non_rendition_keys_have_no_digest(key: str) -> None:
    assert rendition_digest_in_key("renditions/", key) is None


def test_published_key_keeps_a_safe_extension() -> None:
    key = published_key("renditions/", "/tmp/out/thumb.PNG", "sha256=ff")
    assert key.startswith("renditions/thumb/")
    assert key.endswith("/thumb.png")
