"""Correct pixels on the kinds of files other projects test with: every rendition is compared with a
plain Pillow reading of its source (size, orientation, alpha, mean pixel difference).

Sources are generated with Pillow (tests/support/pixels.py): TIFF (raw and LZW, i.e. Pillow's own and
libtiff's loader), JPEG, PNG, WebP and AVIF with each EXIF Orientation 1-8, JPEG with XMP orientation
only, PNGs with a `tRNS` colour key in every mode that has one, and damaged files of each format.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageStat

from lambdas.core.decode import DecodeLimits, open_untrusted
from lambdas.core.errors import CorruptImageError, UnsupportedImageError
from lambdas.core.imaging import load_source, render, render_bytes
from tests.support import images
from tests.support.pixels import (
    CORRUPTIBLE,
    DISPLAYED_CORNER,
    KEYED_SIZE,
    MARKER_SIDE,
    ORIENTATION_TAG,
    STORED,
    corner,
    damaged,
    decoded,
    encoded,
    is_marker,
    keyed_png,
    marked_photo,
    mean_difference,
    oriented_source,
    plain_pillow,
    recipe,
    rgb48_keyed_png,
)

# --- orientation ----------------------------------------------------------------------------------
ORIENTED_KINDS = ("tiff", "tiff-lzw", "jpeg", "jpeg-xmp", "png", "webp", "avif")


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("kind", ORIENTED_KINDS)
def test_each_orientation_is_applied_once_as_pillow_shows_it(kind: str, orientation: int) -> None:
    data = oriented_source(kind, orientation)
    reference = plain_pillow(data).convert("RGB")
    displayed = STORED[::-1] if orientation >= 5 else STORED
    assert reference.size == displayed  # the fixture says what it should

    source = load_source(data)
    full = decoded(render(source, recipe("png", 400, 400)).data)  # no upscale: the source's size
    half = decoded(render(source, recipe("png", displayed[0] // 2, displayed[1] // 2)).data)

    assert full.size == displayed
    assert mean_difference(full.convert("RGB"), reference) < 0.5
    assert half.size == (displayed[0] // 2, displayed[1] // 2)
    expected_half = reference.resize(half.size, Image.Resampling.LANCZOS)
    assert mean_difference(half.convert("RGB"), expected_half) < 2.0
    for where in ("tl", "tr", "bl", "br"):  # independent of Pillow: the spec's corner
        assert is_marker(corner(full, where)) == (where == DISPLAYED_CORNER[orientation]), where


@pytest.mark.parametrize("kind", ["tiff", "jpeg", "png"])
def test_kept_metadata_says_upright_after_rotating(kind: str) -> None:
    rendered = render_bytes(oriented_source(kind, 6), recipe("jpeg", 400, 400, strip_metadata=False))
    assert decoded(rendered.data).getexif().get(ORIENTATION_TAG, 1) == 1
    assert (rendered.width, rendered.height) == STORED[::-1]


def test_kept_metadata_of_a_tiff_describes_the_picture_not_the_tiff_file() -> None:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    exif[0x010F] = "imgpipe-test-camera"  # Make
    data = encoded(marked_photo(), "TIFF", exif=exif, compression="tiff_lzw")
    kept = decoded(render_bytes(data, recipe("jpeg", 400, 400, strip_metadata=False)).data).getexif()
    assert kept.get(0x010F) == "imgpipe-test-camera"
    assert kept.get(ORIENTATION_TAG, 1) == 1  # absent means 1
    storage = {0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0111, 0x0115, 0x0116, 0x0117, 0x011C, 0x013D}
    assert storage.isdisjoint(kept)  # width/length, bits, compression, strips, predictor, ...


def test_animated_webp_frames_are_all_oriented() -> None:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 8
    colours = ((0, 0, 200), (0, 200, 0), (200, 200, 200))
    frames = [images.with_marker(Image.new("RGB", STORED, colour), MARKER_SIDE) for colour in colours]
    data = encoded(
        frames[0],
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=50,
        lossless=True,
        exif=exif.tobytes(),
    )
    rendered = decoded(render_bytes(data, recipe("webp", 400, 400)).data)
    assert getattr(rendered, "n_frames", 1) == 3
    for index in range(3):
        rendered.seek(index)
        frame = rendered.convert("RGB")
        assert frame.size == STORED[::-1]
        assert is_marker(corner(frame, "bl")), index
        assert not is_marker(corner(frame, "tl")), index


# --- tRNS colour keys -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["1", "L", "RGB", "I;16", "P"])
@pytest.mark.parametrize("fmt", ["png", "webp", "gif", "avif"])
def test_a_trns_colour_key_becomes_transparent_pixels(mode: str, fmt: str) -> None:
    data, alpha = keyed_png(mode)
    rendered = render_bytes(data, recipe(fmt, 400, 400))
    image = decoded(rendered.data).convert("RGBA")
    assert image.size == KEYED_SIZE
    tolerance = 6.0 if fmt == "avif" else 0.5  # AVIF codes alpha lossily
    assert mean_difference(image.getchannel("A"), alpha) < tolerance
    if mode != "I;16":  # Pillow's own convert("RGBA") drops a 16-bit key (it compares at 8 bits)
        plain = Image.open(io.BytesIO(data)).convert("RGBA")
        assert mean_difference(image.getchannel("A"), plain.getchannel("A")) < tolerance


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "I;16"])
def test_a_trns_colour_key_is_flattened_over_the_background_in_jpeg(mode: str) -> None:
    data, _ = keyed_png(mode)
    image = decoded(render_bytes(data, recipe("jpeg", 400, 400)).data).convert("RGB")
    inside = image.crop((4, 4, 28, 44))  # the key colours are all dark: white means flattened
    assert all(channel > 245 for channel in ImageStat.Stat(inside).mean)


def test_a_16_bit_rgb_key_is_matched_as_pillow_reads_the_pixels() -> None:
    data = rgb48_keyed_png()
    image = decoded(render_bytes(data, recipe("png", 400, 400)).data)
    plain = Image.open(io.BytesIO(data)).convert("RGBA")
    assert image.mode == "RGBA"
    assert list(image.getchannel("A").tobytes()) == list(plain.getchannel("A").tobytes()) == [0, 255, 0, 255]


def test_16_bit_grey_with_a_key_keeps_its_scaled_grey_levels() -> None:
    data, _ = keyed_png("I;16")
    image = decoded(render_bytes(data, recipe("png", 400, 400)).data)
    assert image.mode == "LA"
    assert image.getpixel((50, 10)) == (50_000 // 256, 255)
    assert image.getpixel((44, 10)) == (1001 // 256, 255)
    assert image.getpixel((10, 10)) == (1000 // 256, 0)


# --- corrupt sources of each allowed format -------------------------------------------------------
@pytest.mark.parametrize("how", ["header-only", "half", "zeroed-header"])
@pytest.mark.parametrize("fmt", CORRUPTIBLE)
def test_a_damaged_file_with_an_allowed_signature_is_corrupt_not_unsupported(fmt: str, how: str) -> None:
    with pytest.raises(CorruptImageError) as caught:
        render_bytes(damaged(fmt, how), recipe("png", 32, 32))
    assert caught.value.field == "fileLocation"


def test_the_corrupt_error_names_the_format_its_signature_claims() -> None:
    with pytest.raises(CorruptImageError, match="signature says PNG"):
        open_untrusted(damaged("PNG", "zeroed-header"), DecodeLimits())


@pytest.mark.parametrize(
    "ftyp",
    [
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",  # an iPhone HEIC
        b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic",  # HEIF with a generic major brand
    ],
)
def test_a_damaged_heif_that_is_not_avif_is_corrupt_heif(ftyp: bytes) -> None:
    with pytest.raises(CorruptImageError, match="signature says HEIF"):
        open_untrusted(ftyp + b"\x00" * 200, DecodeLimits())


def test_an_avif_brand_among_compatible_brands_counts_as_avif() -> None:
    data = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf" + b"\x00" * 200
    with pytest.raises(CorruptImageError, match="signature says AVIF"):
        open_untrusted(data, DecodeLimits())


# --- ICO stays refused (docs/workers.md, "Decoding untrusted input") ------------------------------
def ico_declaring_16px_holding(size: tuple[int, int]) -> bytes:
    """An icon whose directory says 16x16 while its embedded PNG is `size`."""
    png = encoded(Image.new("RGB", size, (200, 30, 30)), "PNG")
    entry = bytes([16, 16, 0, 0]) + (1).to_bytes(2, "little") + (32).to_bytes(2, "little")
    entry += len(png).to_bytes(4, "little") + (6 + 16).to_bytes(4, "little")
    return b"\x00\x00\x01\x00" + (1).to_bytes(2, "little") + entry + png


def test_pillow_decodes_an_icon_while_opening_it_so_no_header_limit_can_apply() -> None:
    """Why ICO is refused: Image.open already decodes the embedded image at its real size."""
    from PIL import IcoImagePlugin

    opened = IcoImagePlugin.IcoImageFile(io.BytesIO(ico_declaring_16px_holding((300, 200))))
    assert opened.size == (300, 200)  # the directory said 16x16; only decoding told the truth


def test_ico_is_refused_by_name() -> None:
    favicon = encoded(images.photo(64, 64), "ICO", sizes=[(16, 16), (32, 32), (64, 64)])
    for data in (favicon, ico_declaring_16px_holding((300, 200))):
        with pytest.raises(UnsupportedImageError, match="ICO") as caught:
            render_bytes(data, recipe("png", 32, 32))
        assert caught.value.field == "fileLocation"
