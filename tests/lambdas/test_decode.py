"""Decoding untrusted bytes: allow-list, limits checked from the header, typed errors."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import pytest
from PIL import Image

from lambdas.core.decode import DecodeLimits, open_untrusted, pillow_guard
from lambdas.core.errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from lambdas.core.imaging import load_source
from lambdas.core.limits import PILLOW_HARD_PIXEL_LIMIT
from tests.support import images

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto showpage\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
XML_SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'
FITS = b"SIMPLE  =                    T / conforms to FITS standard" + b" " * 2800


def pillow_encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [(EPS, "EPS"), (PDF, "PDF"), (SVG, "SVG"), (XML_SVG, "SVG"), (FITS, "FITS")],
)
def test_dangerous_formats_are_refused_by_name(data: bytes, kind: str) -> None:
    with pytest.raises(UnsupportedImageError) as caught:
        open_untrusted(data, DecodeLimits())
    assert kind in str(caught.value)
    assert caught.value.field == "fileLocation"


@pytest.mark.parametrize("fmt", ["ICO", "TGA", "PCX", "PPM", "EPS"])
def test_formats_pillow_can_read_but_we_do_not_are_refused(fmt: str) -> None:
    with pytest.raises(UnsupportedImageError):
        open_untrusted(pillow_encoded(fmt), DecodeLimits())


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "AVIF", "TIFF", "BMP"])
def test_allowed_formats_open(fmt: str) -> None:
    image = open_untrusted(pillow_encoded(fmt), DecodeLimits())
    assert image.format == fmt
    assert image.size == (16, 16)


def test_random_bytes_are_unsupported() -> None:
    with pytest.raises(UnsupportedImageError, match="allowed"):
        open_untrusted(bytes(range(256)) * 4, DecodeLimits())


def test_empty_source_is_corrupt() -> None:
    with pytest.raises(CorruptImageError, match="empty"):
        open_untrusted(b"", DecodeLimits())


def test_truncated_jpeg_is_corrupt_not_a_crash() -> None:
    data = images.jpeg_photo(400, 300)
    with pytest.raises(CorruptImageError, match="cannot decode"):
        load_source(data[: len(data) // 2])


def test_byte_cap() -> None:
    data = images.jpeg_photo(200, 100)
    with pytest.raises(ImageTooLargeError, match=f"{len(data)} bytes"):
        open_untrusted(data, DecodeLimits(max_bytes=len(data) - 1))


def test_pixel_cap_is_checked_from_the_header_before_decoding() -> None:
    # 6000x6000 of one colour compresses to a few KB: a classic decompression bomb shape.
    data = images.solid("PNG", 6000, 6000)
    assert len(data) < 200_000
    with pytest.raises(ImageTooLargeError, match="36000000 pixels"):
        open_untrusted(data, DecodeLimits(max_pixels=10_000_000))


def test_frame_cap() -> None:
    with pytest.raises(ImageTooLargeError, match="6 animation frames"):
        open_untrusted(images.animated("GIF", frames=6), DecodeLimits(max_frames=5))
    assert (
        images.frame_count(open_untrusted(images.animated("GIF", frames=5), DecodeLimits(max_frames=5))) == 5
    )


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width`x`height` and has no pixel data: what a bomb's header looks like."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_pillow_hard_limit_is_the_ceiling_of_configurable_pixels() -> None:
    # The project never changes Pillow's threshold; its hard refusal is at twice it.
    assert Image.MAX_IMAGE_PIXELS is not None
    assert PILLOW_HARD_PIXEL_LIMIT == 2 * Image.MAX_IMAGE_PIXELS


def test_pillow_bomb_error_is_a_typed_error_even_under_the_highest_configurable_cap() -> None:
    data = _png_header(20_000, 10_000)  # 200 MP > PILLOW_HARD_PIXEL_LIMIT
    with pytest.raises(ImageTooLargeError, match="decompression bomb") as raised:
        open_untrusted(data, DecodeLimits(max_pixels=PILLOW_HARD_PIXEL_LIMIT))
    assert raised.value.field == "fileLocation"


def test_between_pillow_warning_and_the_cap_the_explicit_check_decides() -> None:
    # 12000x12000 = 144 MP: Pillow only warns; the configured cap refuses it from the header.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(ImageTooLargeError, match="144000000 pixels exceeds the limit of 89478485"):
            open_untrusted(_png_header(12_000, 12_000), DecodeLimits())
        image = open_untrusted(_png_header(12_000, 12_000), DecodeLimits(max_pixels=150_000_000))
    assert image.size == (12_000, 12_000)  # opened, never decoded


def test_decoding_changes_no_process_wide_state() -> None:
    """Invocations run as threads in the local runtime: no limit may leak from one into another."""
    pillow_threshold = Image.MAX_IMAGE_PIXELS
    filters = list(warnings.filters)
    open_untrusted(images.jpeg_photo(64, 48), DecodeLimits(max_pixels=10_000))
    animation = load_source(images.animated("GIF", frames=3), DecodeLimits(max_pixels=10**8))
    assert len(list(animation.frames())) == 3
    with pytest.raises(ImageTooLargeError):
        open_untrusted(images.jpeg_photo(200, 100), DecodeLimits(max_pixels=1_000))
    assert pillow_threshold == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == filters


def test_guard_maps_a_bomb_warning_a_caller_made_an_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageTooLargeError, match="decompression bomb"), pillow_guard("fileLocation"):
            warnings.warn("too many pixels", Image.DecompressionBombWarning, stacklevel=1)


def test_an_animation_shares_one_pixel_budget_across_its_frames() -> None:
    data = images.animated("GIF", width=100, height=100, frames=5)  # 5 x 10,000 pixels
    with pytest.raises(ImageTooLargeError, match="5 frames of 100x100 = 50000 pixels") as raised:
        open_untrusted(data, DecodeLimits(max_pixels=49_999))
    assert raised.value.field == "fileLocation"
    image = open_untrusted(data, DecodeLimits(max_pixels=50_000))
    assert images.frame_count(image) == 5
    with pytest.raises(ImageTooLargeError, match="whole animation"):
        load_source(data, DecodeLimits(max_pixels=49_999))


def test_a_still_image_is_not_charged_for_frames() -> None:
    image = open_untrusted(images.jpeg_photo(100, 100), DecodeLimits(max_pixels=10_000, max_frames=1))
    assert image.size == (100, 100)


def test_decode_errors_are_not_retryable() -> None:
    for error in (UnsupportedImageError, CorruptImageError, ImageTooLargeError):
        assert error("f", "p").retryable is False


def test_by_default_every_image_pillow_would_warn_about_is_refused() -> None:
    """Decompression-bomb warnings are errors: the default cap is Pillow's own warning threshold."""
    assert DecodeLimits().max_pixels == Image.MAX_IMAGE_PIXELS
    side = 9_460  # 89,491,600 px: just over the threshold
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(ImageTooLargeError, match="exceeds the limit of 89478485"):
            open_untrusted(_png_header(side, side), DecodeLimits())
    assert open_untrusted(_png_header(9_459, 9_459), DecodeLimits()).size == (9_459, 9_459)
