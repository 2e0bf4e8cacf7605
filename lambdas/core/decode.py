"""Opening untrusted bytes with Pillow: a format allow-list and byte, pixel, frame and total-pixel
limits checked from the header before any pixel data is decoded.

No process-wide state is changed per call (the local runtime runs invocations as threads): Pillow's
MAX_IMAGE_PIXELS keeps its default, whose DecompressionBombError (over twice it) is a backstop mapped
to ImageTooLargeError; the configured limits are enforced by the explicit checks in open_untrusted.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from lambdas.core import memory_model
from lambdas.core.errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from lambdas.core.limits import DecodeLimits
from lambdas.core.plugins import SIGNATURE_BYTES, candidate_formats, claimed_format
from lambdas.core.recipe import Recipe

__all__ = [
    "ALLOWED_INPUT_FORMATS",
    "ANIMATABLE_INPUT_FORMATS",
    "DecodeLimits",
    "check_memory",
    "header_orientation",
    "open_untrusted",
    "pillow_guard",
    "source_header",
]

# Only these Pillow plugins may even look at the bytes. TIFF and BMP are common camera/scanner
# exports (the S3 trigger accepts .tif/.bmp); MPO is how many phones write JPEGs, HEIF (HEIC) how
# iPhones store photos (pi-heif's plugin, when installed). Everything with a
# history of parser trouble or an interpreter behind it (EPS/PS via Ghostscript, PDF, SVG, FITS,
# PSD, ICO, TGA, ...) never reaches a decoder. (MPO files are opened by the JPEG plugin.)
ALLOWED_INPUT_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "AVIF", "TIFF", "BMP", "HEIF")
# Only the plugin a source's signature points at is imported (lambdas.core.plugins): never
# Image.init(), which loads every plugin, and no AVIF/WebP/TIFF codec for a JPEG upload.
ANIMATABLE_INPUT_FORMATS = frozenset({"GIF", "WEBP", "PNG"})

# Recognised so the error can say what was refused instead of "unidentified".
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"%PDF", "PDF"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML/SVG"),
    (b"SIMPLE  =", "FITS"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
)


@contextmanager
def pillow_guard(field: str) -> Iterator[None]:
    """Map Pillow's failures while opening or decoding to typed errors naming `field`."""
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # The warning only arrives as an exception when a caller's warnings filter says "error".
        raise ImageTooLargeError(field, f"decompression bomb refused: {error}") from None
    except MemoryError:
        raise ImageTooLargeError(field, "image needs more memory than is available") from None
    except UnidentifiedImageError:
        raise  # handled by the caller, which knows the bytes
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        raise CorruptImageError(field, f"cannot decode image: {error}") from None


def _refused_kind(data: bytes) -> str | None:
    head = data[:1024].lstrip()
    for signature, kind in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return kind
    if b"<svg" in head[:1024].lower():
        return "SVG"
    return None


def open_untrusted(data: bytes, limits: DecodeLimits, field: str = "fileLocation") -> Image.Image:
    """Identify and size-check `data` without decoding pixels; the caller decides when to load()."""
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(field, f"{len(data)} bytes exceeds the limit of {limits.max_bytes} bytes")
    if not data:
        raise CorruptImageError(field, "the source is empty (0 bytes)")
    with pillow_guard(field):
        formats = candidate_formats(data[:16], ALLOWED_INPUT_FORMATS)
        try:
            if not formats:
                raise UnidentifiedImageError("no allowed format matches the signature")
            image = Image.open(io.BytesIO(data), formats=formats)
        except UnidentifiedImageError:
            claimed = claimed_format(data[:SIGNATURE_BYTES])
            if claimed in formats:  # allowed, and its decoder is installed
                raise CorruptImageError(
                    field,
                    f"its signature says {claimed}, but it is not a readable {claimed} file "
                    "(truncated or corrupt)",
                ) from None
            kind = _refused_kind(data)
            allowed = ", ".join(ALLOWED_INPUT_FORMATS)
            if kind:
                raise UnsupportedImageError(
                    field, f"{kind} sources are refused; allowed: {allowed}"
                ) from None
            raise UnsupportedImageError(
                field, f"not an image in an allowed format (allowed: {allowed})"
            ) from None
        width, height = image.size
        if width <= 0 or height <= 0:
            raise CorruptImageError(field, f"header declares an empty image ({width}x{height})")
        if width * height > limits.max_pixels:
            raise ImageTooLargeError(
                field, f"{width}x{height} = {width * height} pixels exceeds the limit of {limits.max_pixels}"
            )
        if image.format in ANIMATABLE_INPUT_FORMATS and getattr(image, "is_animated", False):
            frames = int(getattr(image, "n_frames", 1))
            if frames > limits.max_frames:
                raise ImageTooLargeError(
                    field, f"{frames} animation frames exceeds the limit of {limits.max_frames}"
                )
            # Every frame is decoded at canvas size when rendering: the whole animation shares the
            # pixel budget, so 200 frames of 100 MP are refused, not 200 times the single-image cap.
            if width * height * frames > limits.max_pixels:
                raise ImageTooLargeError(
                    field,
                    f"{frames} frames of {width}x{height} = {width * height * frames} pixels exceeds "
                    f"the limit of {limits.max_pixels} for a whole animation",
                )
    return image


def _jpeg_samples_per_pixel(image: Image.Image) -> float:
    """Component samples per pixel from the JPEG frame header (4:2:0 is 1.5, 4:4:4 is 3)."""
    layers = getattr(image, "layer", None) or []
    if not layers:
        return float(len(image.getbands()))
    max_h = max(layer[1] for layer in layers)
    max_v = max(layer[2] for layer in layers)
    return sum(layer[1] * layer[2] for layer in layers) / (max_h * max_v)


# pi-heif's `chroma` (libheif's chroma of the primary image) -> component samples per pixel
_HEIF_CHROMA_SAMPLES = {400: 1.0, 420: 1.5, 422: 2.0, 444: 3.0}


def _heif_planes(image: Image.Image) -> tuple[float, int]:
    """(samples per pixel, bits per sample) of a HEIF's coded planes, from pi-heif's header info;
    the worst (4:4:4, 16 bits) when it does not say."""
    chroma = image.info.get("chroma")
    depth = image.info.get("bit_depth")
    samples = _HEIF_CHROMA_SAMPLES.get(chroma, 3.0) if isinstance(chroma, int) else 3.0
    return samples, depth if isinstance(depth, int) and depth > 0 else 16


def header_orientation(image: Image.Image) -> int | None:
    """The EXIF orientation when reading it decodes no pixels, else None (unknown): Pillow's PNG
    getexif() loads the whole image unless an eXIf chunk came before the image data."""
    if image.format == "PNG" and "exif" not in image.info:
        return None
    orientation = image.getexif().get(0x0112, 1)
    return orientation if isinstance(orientation, int) and orientation in range(1, 9) else 1


def source_header(
    image: Image.Image, source_bytes: int, orientation: int | None = None
) -> memory_model.SourceHeader:
    """What the memory model needs, read from an opened (not yet decoded) image."""
    fmt = "JPEG" if image.format == "MPO" else str(image.format)
    animated = image.format in ANIMATABLE_INPUT_FORMATS and getattr(image, "is_animated", False)
    jpeg = fmt == "JPEG"
    samples, bit_depth = _heif_planes(image) if fmt == "HEIF" else (3.0, 8)
    if jpeg:
        samples = _jpeg_samples_per_pixel(image)
    return memory_model.SourceHeader(
        format=fmt,
        width=image.width,
        height=image.height,
        mode=image.mode,
        frames=int(getattr(image, "n_frames", 1)) if animated else 1,
        source_bytes=source_bytes,
        transposed=orientation is None or orientation in range(2, 9),
        has_icc=bool(image.info.get("icc_profile")),
        alpha="A" in image.mode or "transparency" in image.info,
        progressive=jpeg and bool(image.info.get("progressive") or image.info.get("progression")),
        samples_per_pixel=samples,
        bit_depth=bit_depth,
    )


def check_memory(
    image: Image.Image,
    source_bytes: int,
    limits: DecodeLimits,
    recipes: Iterable[Recipe] = (),
    *,
    orientation: int | None = None,
    draft_boxes: Sequence[tuple[int, int]] | None = None,
    field: str = "fileLocation",
) -> memory_model.MemoryEstimate:
    """Refuse, before any pixel is decoded, a source whose decode and renditions (one at a time) would
    not fit the function's memory (lambdas/core/memory_model.py); return the estimate otherwise.
    `draft_boxes`: the boxes JPEG draft decoding will use (None: those of the non-upscaling recipes)."""
    recipes = list(recipes)
    header = source_header(image, source_bytes, orientation)
    estimate = memory_model.estimate(header, recipes, draft_boxes=draft_boxes)
    usable = memory_model.usable_bytes(limits.memory_mb)
    if estimate.peak_bytes <= usable:
        return estimate
    largest = memory_model.largest_fitting_pixels(
        header, recipes, limits.memory_mb, upper=limits.max_pixels, draft_boxes=draft_boxes
    )
    kind = f"{header.mode} {header.format}" + (f" of {header.frames} frames" if header.frames > 1 else "")
    raise ImageTooLargeError(
        field,
        f"a {header.width}x{header.height} {kind} source needs about {estimate.peak_mb:,.0f} MB to decode "
        f"and render ({estimate.peak_stage}), more than the {usable / memory_model.MIB:,.0f} MB a "
        f"{limits.memory_mb:,} MB function (imgpipe:memorySize) has for one source after its "
        f"{memory_model.HANDLER_BASELINE_MB} MB baseline and {memory_model.MEMORY_MARGIN:.0%} margin; "
        f"the largest such source it renders is {largest:,} pixels"
        f"{' in all frames' if header.frames > 1 else ''} (imgpipe:maxSourcePixels is {limits.max_pixels:,})",
    )
