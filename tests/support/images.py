"""Deterministic test images, generated in memory (no fixtures on disk, no randomness).

Shared by the worker, reliability and benchmark suites. Each generator returns encoded bytes; the
`photo` image has gradients and fine detail so that encoders and resamplers do realistic work.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw

MARKER = (255, 0, 0)  # drawn in the stored top-left corner, to check orientation after decoding


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def photo(width: int = 640, height: int = 480) -> Image.Image:
    """A photo-like RGB image: colour gradients plus Mandelbrot detail."""
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    detail = Image.effect_mandelbrot((width, height), (-2.0, -1.25, 0.75, 1.25), 64)
    blue = Image.blend(red.transpose(Image.Transpose.ROTATE_180), detail, 0.6)
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, width // 2, height // 2), fill=(30, 160, 60))
    return image


def with_marker(image: Image.Image, size: int | None = None) -> Image.Image:
    """Paint a red square in the top-left corner (stored orientation)."""
    marked = image.copy()
    side = size or max(4, min(image.size) // 8)
    ImageDraw.Draw(marked).rectangle((0, 0, side - 1, side - 1), fill=MARKER if marked.mode == "RGB" else 255)
    return marked


def jpeg_photo(width: int = 640, height: int = 480, quality: int = 90) -> bytes:
    return encode(photo(width, height), "JPEG", quality=quality)


def jpeg_with_orientation(width: int = 640, height: int = 480, orientation: int = 6) -> bytes:
    """Stored width x height with a red top-left marker, EXIF Orientation set (6 = rotate 90 CW)."""
    image = with_marker(photo(width, height))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "imgpipe-test-camera"  # Make: must not survive stripMetadata
    return encode(image, "JPEG", quality=92, exif=exif.tobytes())


def rgba_png(width: int = 300, height: int = 200) -> bytes:
    """Transparent canvas with an opaque blue square in the middle and a half-transparent band."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(0, 0, 255, 255))
    draw.rectangle((0, 0, width - 1, height // 10), fill=(0, 255, 0, 128))
    return encode(image, "PNG")


def palette_gif_transparent(width: int = 120, height: int = 80) -> bytes:
    """Palette GIF whose background index is transparent, with an opaque red square."""
    image = Image.new("P", (width, height), 0)
    palette = [0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254
    image.putpalette(palette)
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=1)
    return encode(image, "GIF", transparency=0)


FRAME_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255))


def animated(fmt: str = "GIF", width: int = 160, height: int = 120, frames: int = 5) -> bytes:
    """An animation whose frame i is filled with FRAME_COLOURS[i % 5]; durations 40, 50, 60, ... ms."""
    images = [Image.new("RGB", (width, height), FRAME_COLOURS[i % len(FRAME_COLOURS)]) for i in range(frames)]
    durations = [40 + 10 * i for i in range(frames)]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], duration=durations, loop=0)


def cmyk_jpeg(width: int = 200, height: int = 100) -> bytes:
    """CMYK JPEG, left half pure cyan, right half pure yellow."""
    image = Image.new("CMYK", (width, height), (255, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((width // 2, 0, width - 1, height - 1), fill=(0, 0, 255, 0))
    return encode(image, "JPEG", quality=95)


def png16_grey(width: int = 256, height: int = 64) -> bytes:
    """16-bit greyscale PNG: a horizontal ramp from 0 to 65535."""
    image = Image.new("I;16", (width, height))
    ramp = [round(x * 65535 / (width - 1)) for x in range(width)]
    image.putdata(ramp * height)
    return encode(image, "PNG")


def greyscale_jpeg(width: int = 320, height: int = 240) -> bytes:
    return encode(photo(width, height).convert("L"), "JPEG", quality=90)


def solid(
    fmt: str, width: int, height: int, colour: tuple[int, ...] = (120, 80, 40), mode: str = "RGB"
) -> bytes:
    """A plain image of any size, e.g. 1x1 or 4000x10 for the extreme-aspect cases."""
    return encode(Image.new(mode, (width, height), colour), fmt)


def with_icc(data_format: str = "JPEG", profile: bytes | None = None) -> bytes:
    """An RGB image carrying an ICC profile (sRGB by default; pass garbage to test broken profiles)."""
    from PIL import ImageCms

    icc = (
        profile if profile is not None else ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    )
    return encode(photo(200, 150), data_format, icc_profile=icc)


def decode(data: bytes) -> Image.Image:
    """Open and fully load an output for assertions."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def px(image: Image.Image, xy: tuple[int, int]) -> Any:
    """A pixel value (typed loosely: a tuple for multi-band modes, an int for L/P)."""
    return image.getpixel(xy)


def frame_count(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1))
