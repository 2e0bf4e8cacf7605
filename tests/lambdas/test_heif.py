"""HEIC/HEIF input (pi-heif's decoder): the same header limits, orientation, colour and alpha
handling as the other formats, each rendition compared with a plain Pillow reading of the source."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps

from lambdas.core.decode import DecodeLimits, open_untrusted
from lambdas.core.errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from lambdas.core.imaging import load_source, render, render_bytes
from lambdas.core.plugins import ensure_plugin
from tests.support import images
from tests.support.fresh_interpreter import run_fresh
from tests.support.pixels import (
    DISPLAYED_CORNER,
    STORED,
    corner,
    decoded,
    heic,
    is_marker,
    marked_photo,
    mean_difference,
    recipe,
)


def plain_pillow(data: bytes) -> Image.Image:
    ensure_plugin("HEIF")  # pi-heif's opener, as a plain Pillow program would register it
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data)))


def test_a_heic_opens_as_heif_from_its_header() -> None:
    image = open_untrusted(heic(marked_photo()), DecodeLimits())
    assert image.format == "HEIF"
    assert image.size == STORED


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_orientation_is_applied_once(orientation: int) -> None:
    data = heic(marked_photo(), orientation)
    displayed = STORED[::-1] if orientation >= 5 else STORED
    reference = plain_pillow(data).convert("RGB")
    assert reference.size == displayed
    source = load_source(data)
    full = decoded(render(source, recipe("png", 400, 400)).data)
    assert full.size == displayed
    assert mean_difference(full.convert("RGB"), reference) < 0.5
    for where in ("tl", "tr", "bl", "br"):
        assert is_marker(corner(full, where)) == (where == DISPLAYED_CORNER[orientation]), where


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "gif"])
def test_every_output_format_matches_a_plain_reading(fmt: str) -> None:
    data = heic(images.photo(160, 120))
    rendered = render_bytes(data, recipe(fmt, 80, 80))
    image = decoded(rendered.data).convert("RGB")
    assert image.size == (rendered.width, rendered.height) == (80, 60)
    expected = plain_pillow(data).convert("RGB").resize((80, 60), Image.Resampling.LANCZOS)
    assert mean_difference(image, expected) < (12.0 if fmt == "gif" else 6.0)


def test_alpha_is_kept() -> None:
    rgba = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    rgba.paste((20, 200, 40, 255), (16, 12, 48, 36))
    alpha = decoded(render_bytes(heic(rgba), recipe("png", 400, 400)).data).convert("RGBA").getchannel("A")
    assert mean_difference(alpha, rgba.getchannel("A")) < 3.0


def test_an_icc_profile_is_converted_and_not_copied() -> None:
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = heic(images.photo(96, 64), icc_profile=srgb)
    assert plain_pillow(data).info.get("icc_profile")  # the fixture carries it
    image = decoded(render_bytes(data, recipe("png", 400, 400)).data)
    assert "icc_profile" not in image.info
    assert mean_difference(image.convert("RGB"), plain_pillow(data).convert("RGB")) < 1.0


def test_the_pixel_limit_refuses_a_heic_from_its_header() -> None:
    with pytest.raises(ImageTooLargeError, match="pixels exceeds"):
        open_untrusted(heic(marked_photo()), DecodeLimits(max_pixels=STORED[0] * STORED[1] - 1))


@pytest.mark.parametrize("cut", [40, 300, 0.5])
def test_a_truncated_heic_is_corrupt(cut: float) -> None:
    data = heic(images.photo(96, 64))
    with pytest.raises(CorruptImageError) as caught:
        render_bytes(data[: int(cut * len(data)) if cut < 1 else int(cut)], recipe("png", 32, 32))
    assert caught.value.field == "fileLocation"


def test_without_pi_heif_a_heic_is_unsupported_not_a_crash() -> None:
    """A layer built without pi-heif refuses HEIC by type instead of failing with an ImportError."""
    probe = f"""
import sys
sys.modules["pi_heif"] = None  # not installed
from lambdas.core.errors import UnsupportedImageError
from lambdas.core.imaging import load_source
try:
    load_source(bytes.fromhex({heic(images.photo(32, 32)).hex()!r}))
except UnsupportedImageError as error:
    print(type(error).__name__)
"""
    assert run_fresh(probe, {}).strip() == "UnsupportedImageError"


def test_a_jpeg_never_loads_pi_heif() -> None:
    probe = """
import io, sys
from PIL import Image
from lambdas.core.imaging import render_bytes
from lambdas.core.recipe import Recipe
buffer = io.BytesIO()
Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
render_bytes(buffer.getvalue(), Recipe(format="webp", width=32, height=32, fit="contain", quality=80))
print("pi_heif" in sys.modules)
"""
    assert run_fresh(probe, {}).strip() == "False"


def test_unsupported_is_still_what_a_non_image_gets() -> None:
    with pytest.raises(UnsupportedImageError):
        open_untrusted(b"\x00\x00\x00\x18ftypqt  " + b"\x00" * 200, DecodeLimits())
