"""The corpus is what it claims to be: deterministic, and each hostile file really is hostile.

Without this, a "bomb" that is not a bomb would make the worker tests pass for the wrong reason.
"""

from __future__ import annotations

import io
import struct
import warnings

import pytest
from PIL import Image, ImageOps

from tests.reliability import corpus
from tests.reliability.corpus import (
    BY_NAME,
    CORPUS,
    QUADRANT_COLOURS,
    quadrant_centres,
    quadrant_picture,
    rgba_at,
)


def test_corpus_is_large_enough_and_names_are_unique() -> None:
    assert len(CORPUS) >= 20
    assert len(BY_NAME) == len(CORPUS)


@pytest.mark.parametrize("item", CORPUS, ids=lambda item: item.name)
def test_items_are_deterministic(item: corpus.CorpusItem) -> None:
    assert item.build() == item.build() == item.data


def _header_size(data: bytes) -> tuple[int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(io.BytesIO(data)) as image:
                return image.size
        finally:
            Image.MAX_IMAGE_PIXELS = previous


@pytest.mark.parametrize(
    ("name", "min_pixels", "max_bytes"),
    [
        ("bomb-40000.png", 1_000_000_000, 400_000),
        ("bomb-12000.png", 100_000_001, 100_000),
        ("huge-header.gif", 65535 * 65535, 100),
        ("huge-header.jpg", 65535 * 65535, 2_000),
    ],
)
def test_bombs_claim_many_pixels_in_few_bytes(name: str, min_pixels: int, max_bytes: int) -> None:
    data = BY_NAME[name].data
    width, height = _header_size(data)
    assert width * height >= min_pixels
    assert len(data) <= max_bytes


def test_bomb_under_pillow_limit_is_only_stopped_by_the_project_cap() -> None:
    width, height = _header_size(BY_NAME["bomb-12000.png"].data)
    assert Image.MAX_IMAGE_PIXELS is not None
    assert Image.MAX_IMAGE_PIXELS < width * height < 2 * Image.MAX_IMAGE_PIXELS
    assert width * height > 100_000_000  # over the default cap (Pillow's warning threshold) by far


def test_gif_has_thousands_of_frames() -> None:
    with Image.open(io.BytesIO(BY_NAME["frames-3000.gif"].data)) as image:
        assert getattr(image, "n_frames", 1) == corpus.GIF_FRAMES


@pytest.mark.parametrize("name", ["ztxt-bomb.png", "ztxt-many.png"])
def test_text_chunks_inflate_to_tens_of_megabytes(name: str) -> None:
    data = BY_NAME[name].data
    inflated, position = 0, 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        if kind == b"zTXt":
            payload = data[position + 8 : position + 8 + length]
            inflated += len(__import__("zlib").decompress(payload[payload.index(b"\0") + 2 :]))
        position += 12 + length
    assert inflated >= 40 << 20
    assert len(data) < 200_000


def test_eps_is_identified_by_pillow_so_the_worker_must_refuse_it_by_format() -> None:
    # Pillow identifies EPS (and would run Ghostscript on load): a format allow-list is required.
    with Image.open(io.BytesIO(BY_NAME["postscript.jpg"].data)) as image:
        assert image.format == "EPS"


@pytest.mark.parametrize(
    ("name", "mode"), [("cmyk.jpg", "CMYK"), ("grey16.png", "I;16"), ("grey-alpha.png", "LA")]
)
def test_awkward_modes(name: str, mode: str) -> None:
    with Image.open(io.BytesIO(BY_NAME[name].data)) as image:
        assert image.mode == mode


def test_palette_item_has_a_transparent_index() -> None:
    with Image.open(io.BytesIO(BY_NAME["palette-alpha.png"].data)) as image:
        assert image.mode == "P"
        assert rgba_at(image.convert("RGBA"), (2, 2))[3] == 0


def test_rgb48_is_sixteen_bits_per_channel() -> None:
    data = BY_NAME["rgb48.png"].data
    bit_depth, colour_type = data[24], data[25]
    assert (bit_depth, colour_type) == (16, 2)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_items_show_the_reference_picture_once_oriented(orientation: int) -> None:
    with Image.open(io.BytesIO(BY_NAME[f"exif-{orientation}.jpg"].data)) as image:
        assert image.getexif()[0x0112] == orientation
        stored_size = image.size
        shown = ImageOps.exif_transpose(image)
    assert shown.size == quadrant_picture().size
    if orientation >= 5:
        assert stored_size == shown.size[::-1]
    for centre, colour in zip(quadrant_centres(shown.size), QUADRANT_COLOURS, strict=True):
        assert all(abs(a - b) <= 12 for a, b in zip(rgba_at(shown, centre)[:3], colour, strict=True))


def test_trailing_junk_follows_a_valid_png() -> None:
    data = BY_NAME["trailing-junk.png"].data
    assert data.index(b"IEND") + 8 < len(data)
