"""Decoding untrusted bytes: allow-list, limits checked from the header, typed errors."""

from __future__ import annotations

import io
import warnings

import pytest
from PIL import Image

from lambdas.core.decode import DecodeLimits, open_untrusted, pillow_guard
from lambdas.core.errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from lambdas.core.imaging import load_source
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


def test_decompression_bomb_warning_is_an_error() -> None:
    with (
        pytest.raises(ImageTooLargeError, match="decompression bomb"),
        pillow_guard(DecodeLimits(), "fileLocation"),
    ):
        warnings.warn("too many pixels", Image.DecompressionBombWarning, stacklevel=1)


def test_decode_errors_are_not_retryable() -> None:
    for error in (UnsupportedImageError, CorruptImageError, ImageTooLargeError):
        assert error("f", "p").retryable is False
