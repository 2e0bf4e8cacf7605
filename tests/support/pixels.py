"""Sources that other projects' test suites carry, generated with Pillow, and how to compare a
rendition with a plain Pillow reading of its source (used by tests/lambdas and tests/e2e)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image, ImageChops, ImageOps, ImageStat

from lambdas.core.recipe import Recipe
from tests.support import images

STORED = (96, 64)  # landscape as stored; orientations 5-8 display it portrait
MARKER_SIDE = 12
ORIENTATION_TAG = 0x0112
# Where the stored top-left corner is displayed, per EXIF orientation (TIFF 6.0 spec, tag 274).
DISPLAYED_CORNER = {1: "tl", 2: "tr", 3: "br", 4: "bl", 5: "tl", 6: "tr", 7: "br", 8: "bl"}
XMP_ORIENTATION = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="{}"/>'
    "</rdf:RDF></x:xmpmeta>"
)


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def recipe(fmt: str, width: int, height: int, **options: Any) -> Recipe:
    """A `contain` recipe (never enlarging: a box larger than the source keeps its size)."""
    quality = 90 if fmt in ("jpeg", "webp", "avif") else None
    return Recipe(format=fmt, width=width, height=height, fit="contain", quality=quality, **options)


def plain_pillow(data: bytes) -> Image.Image:
    """How Pillow itself shows the source: opened, loaded, EXIF/XMP orientation applied once."""
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data)))


def mean_difference(actual: Image.Image, expected: Image.Image) -> float:
    assert actual.size == expected.size
    assert actual.mode == expected.mode
    return sum(ImageStat.Stat(ImageChops.difference(actual, expected)).mean) / len(actual.getbands())


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def corner(image: Image.Image, where: str) -> tuple[int, ...]:
    x = MARKER_SIDE // 2 if where[1] == "l" else image.width - 1 - MARKER_SIDE // 2
    y = MARKER_SIDE // 2 if where[0] == "t" else image.height - 1 - MARKER_SIDE // 2
    pixel = image.convert("RGB").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return pixel


def is_marker(pixel: tuple[int, ...]) -> bool:
    red, green, blue = pixel[:3]
    return red > 180 and green < 90 and blue < 90


def marked_photo() -> Image.Image:
    return images.with_marker(images.photo(*STORED), MARKER_SIDE)


def oriented_source(kind: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    photo = marked_photo()
    if kind == "tiff":
        return encoded(photo, "TIFF", exif=exif)
    if kind == "tiff-lzw":  # compressed: decoded by libtiff, not by Pillow's own raw decoder
        return encoded(photo, "TIFF", exif=exif, compression="tiff_lzw")
    if kind == "jpeg-xmp":  # no EXIF at all: the orientation is only in the XMP packet
        return encoded(photo, "JPEG", quality=95, xmp=XMP_ORIENTATION.format(orientation).encode())
    params: dict[str, Any] = {"exif": exif.tobytes()}
    if kind in ("jpeg", "webp", "avif"):
        params["quality"] = 95
    return encoded(photo, kind.upper(), **params)


KEYED_SIZE = (64, 48)
KEYED_BOX = (0, 0, 31, 47)  # the left half is painted with the key colour: transparent


def keyed_png(mode: str) -> tuple[bytes, Image.Image]:
    """A PNG whose left half is the tRNS key colour, and the alpha a reader must give it."""
    key: int | tuple[int, int, int]
    if mode == "1":
        image, key = Image.new("1", KEYED_SIZE, 1), 0
        image.paste(0, KEYED_BOX)
    elif mode == "L":
        image, key = Image.linear_gradient("L").resize(KEYED_SIZE).point(lambda v: max(v, 60)), 17
        image.paste(key, KEYED_BOX)
    elif mode == "RGB":
        image, key = images.photo(*KEYED_SIZE), (10, 20, 30)
        image.paste(key, KEYED_BOX)
    elif mode == "I;16":
        image, key = Image.new("I;16", KEYED_SIZE, 50_000), 1000
        image.paste(Image.new("I;16", (31, 47), 1000), (0, 0))  # paste(int) misreads I;16 colours
        image.paste(Image.new("I;16", (7, 47), 1001), (40, 0))  # only below 8 bits from the key: opaque
    else:  # "P": palette transparency, which already worked (a control)
        image, key = images.photo(*KEYED_SIZE).quantize(64), 0
        image.paste(0, KEYED_BOX)
    alpha = Image.new("L", KEYED_SIZE, 255)
    alpha.paste(0, KEYED_BOX)
    if mode == "P":  # palette index 0 may occur outside the box too
        alpha = Image.frombytes("L", KEYED_SIZE, bytes(0 if index == 0 else 255 for index in image.tobytes()))
    data = encoded(image, "PNG", transparency=key)
    assert Image.open(io.BytesIO(data)).mode == mode  # the fixture really is that mode
    return data, alpha


def rgb48_keyed_png() -> bytes:
    """A 16-bit-per-channel RGB PNG with a tRNS key (Pillow cannot write one: built chunk by chunk).
    Pixels: the key, a light grey, the key again, and a colour equal to the key's 16-bit values."""
    key = (2570, 5140, 7710)  # (10, 20, 30) * 257
    pixels = (key, (60_000,) * 3, key, (10, 20, 30))
    rows = b"\x00" + b"".join(struct.pack(">HHH", *pixel) for pixel in pixels)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", len(pixels), 1, 16, 2, 0, 0, 0)  # 16-bit truecolour
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        (
            chunk(b"IHDR", header),
            chunk(b"tRNS", struct.pack(">HHH", *key)),
            chunk(b"IDAT", zlib.compress(rows)),
            chunk(b"IEND", b""),
        )
    )


CORRUPTIBLE = ("JPEG", "PNG", "GIF", "TIFF", "AVIF", "WEBP", "BMP")


def damaged(fmt: str, how: str) -> bytes:
    data = encoded(images.photo(64, 48), fmt)
    if how == "header-only":
        return data[:16]
    if how == "half":
        return data[: len(data) // 2]
    # "zeroed-header": 24 zero bytes right after the signature (for AVIF, after its whole ftyp box)
    signature = {"JPEG": 3, "PNG": 8, "GIF": 6, "TIFF": 4, "WEBP": 12, "BMP": 2}.get(fmt)
    if signature is None:
        signature = int.from_bytes(data[:4], "big")
    return data[:signature] + b"\x00" * 24 + data[signature + 24 :]


def heic(image: Image.Image, orientation: int = 1, **params: Any) -> bytes:
    """A HEIC (HEVC in HEIF) of `image`, EXIF orientation stored as the container's irot/imir boxes.
    pillow-heif's x265 encoder is a test-only dependency: the workers decode with pi-heif."""
    import pillow_heif

    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(
        buffer, quality=params.pop("quality", 92), exif=exif.tobytes(), **params
    )
    return buffer.getvalue()
