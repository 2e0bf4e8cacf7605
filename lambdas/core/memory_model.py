"""How much memory decoding and rendering one source takes, from its header alone.

One model for three users: the workers refuse a source before decoding it when its estimate does
not fit the function (`lambdas.core.decode.check_memory`), synth refuses a cdk.json whose caps no
source could reach (`imgpipe.config.DeploymentConfig`), and docs/workers.md lists the per-format caps
it derives. Pillow-free (numbers only), so the config and the planner can import it cheaply.

Every figure follows a working copy that `lambdas/core/imaging.py` makes, in bytes per pixel of the
image it copies; the decoder overheads were measured with `python -m benchmarks.memory --caps`
(docs/performance.md, "Memory at the configured caps"). The model assumes the decoded source is held
until the last rendition is encoded and that renditions are rendered one at a time: true for the
decode-once path (`load_source` + `render` per recipe), an upper bound for `render_bytes`, which
frees the source during its resize.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from lambdas.core.recipe import Recipe

MIB = 1024 * 1024
# What a resize function holds before the source arrives (interpreter, handler module, pydantic
# models, Powertools, the boto3 S3 client): 61-64 MB measured (benchmarks/memory.py, handler
# baseline), rounded up for the Lambda runtime's own client loop.
HANDLER_BASELINE_MB = 80
# Kept free of the function's memory: allocator fragmentation, decoder scratch not modelled.
MEMORY_MARGIN = 0.10
# Held at every stage besides the images: decoder and encoder state, Python objects, allocator
# slack (the measured WebP peak at its cap was 1 MB over the per-pixel figures alone).
SCRATCH_BYTES = 8 * MIB

# Pillow stores every multi-band mode in 4 bytes per pixel ("RGB" too), 16-bit grey in 2.
_ONE_BYTE_MODES = frozenset({"1", "L", "P"})
_TWO_BYTE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_GREY_AFTER_NORMALISE = _ONE_BYTE_MODES - {"P"} | _TWO_BYTE_MODES | {"I", "F"}

# Decoder memory beyond Pillow's image, bytes per decoded pixel: (peak while decoding, still held
# while the opened image lives). WebP: libwebp's RGBA canvas plus the frame bytes Pillow copies out
# (measured 16 B/px in all at the decode, 12 held). AVIF: the YUV planes (12-bit 4:4:4 + alpha at
# worst, 8 B/px) plus libavif's RGB buffer. TIFF: libtiff's RGBA read buffer for YCbCr/JPEG TIFFs.
# PNG, GIF, BMP and baseline JPEG decode row by row into Pillow's image.
_DECODER_BYTES: dict[str, tuple[float, float]] = {
    "WEBP": (12.0, 8.0),
    "AVIF": (12.0, 8.0),
    "TIFF": (4.0, 0.0),
}
# HEIF (pi-heif: libheif + libde265): while decoding, libheif holds the coded planes and its
# interleaved RGB(A) output beside Pillow's image; all of it is freed once Pillow has the pixels
# (held 0). Measured peaks beyond Pillow's 4 B/px in a fresh process (benchmarks/memory.py; 6000x6000
# unless said): 8-bit 4:2:0 3.0 B/px, 8-bit 4:4:4 5.0, 10-bit 4:2:0 3.5, 10-bit 4:4:4 11.0; an
# alpha plane adds 1.0 at 8 bits (8-bit 4:2:0 RGBA 4.0) and 5.5 above (10-bit 4:4:4 RGBA 15.9 at
# 7166x7166 and 16.1 at 6409x6409, `--caps`: 16.5 charged). 4:2:2 counts as 4:4:4.
_HEIF_DECODER_BYTES = {(False, False): 3.0, (False, True): 5.0, (True, False): 3.5, (True, True): 11.0}
_HEIF_ALPHA_BYTES = {False: 1.0, True: 5.5}  # by bit depth above 8
# An animation holds the decoder's canvas, Pillow's previous frame and the disposal region.
_ANIMATION_STATE_BYTES = 12.0
# Encoder working memory per output pixel, beyond the rendered image (measured, 4000x4000 noise,
# RGBA worst): JPEG flattens alpha and keeps optimize/progressive coefficients; WebP and AVIF copy
# to their picture and YUV buffers; GIF quantizes; PNG's zlib holds at most the output.
_ENCODER_BYTES = {"jpeg": 10.0, "png": 5.0, "webp": 36.0, "gif": 17.0, "avif": 34.0}
# An animated output keeps every rendered frame, WebP's encoder a frame's worth of bitstream more.
_ANIMATED_FRAME_BYTES = {"webp": 4.0 + 1.0, "gif": 4.0 + 1.0 + 1.0}


@dataclass(frozen=True)
class SourceHeader:
    """What Pillow reports before decoding. Unknown facts take their worst value: an orientation
    that transposes, an ICC profile to convert, alpha, a progressive 4:4:4 JPEG."""

    format: str  # Pillow's format name: JPEG, PNG, WEBP, GIF, AVIF, TIFF, BMP, HEIF (MPO is JPEG)
    width: int
    height: int
    mode: str
    frames: int = 1  # > 1 only for animations that are rendered as animations
    source_bytes: int = 0  # the encoded bytes, held throughout
    transposed: bool = True  # EXIF orientation 2-8
    has_icc: bool = True
    alpha: bool = True  # an alpha band (or palette transparency) after decoding
    progressive: bool = True  # JPEG only: progressive scans keep every DCT coefficient
    # JPEG and HEIF: 3 for 4:4:4, 1.5 for 4:2:0, 1 grey (JPEG: 4 CMYK)
    samples_per_pixel: float = 3.0
    bit_depth: int = 16  # HEIF only: bits per coded sample; above 8 libheif decodes through 16 bits

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class MemoryEstimate:
    """The peak and the stage it happens in; `stages` maps each stage to the bytes held there."""

    stages: dict[str, int]

    @property
    def peak_bytes(self) -> int:
        return max(self.stages.values())

    @property
    def peak_stage(self) -> str:
        return max(self.stages, key=lambda stage: self.stages[stage])

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / MIB


def bytes_per_pixel(mode: str) -> int:
    """Pillow's storage of one pixel of `mode`."""
    if mode in _ONE_BYTE_MODES:
        return 1
    if mode in _TWO_BYTE_MODES:
        return 2
    return 4


def usable_bytes(memory_mb: int) -> int:
    """What one source may use of a function with `memory_mb`: minus the margin and the baseline."""
    return int(memory_mb * MIB * (1 - MEMORY_MARGIN)) - HANDLER_BASELINE_MB * MIB


def draft_boxes_of(recipes: Sequence[Recipe]) -> list[tuple[int, int]]:
    """The boxes `imaging.render_bytes` asks JPEG draft decoding for: none when any recipe upscales."""
    if any(recipe.upscale for recipe in recipes):
        return []
    return [(recipe.width, recipe.height) for recipe in recipes]


def draft_scale(header: SourceHeader, boxes: Sequence[tuple[int, int]]) -> int:
    """The 1/2, 1/4 or 1/8 reduction libjpeg decodes at (`imaging._draft_box`, Pillow's `draft`):
    only for still JPEGs, from the largest box asked for."""
    if header.format not in ("JPEG", "MPO") or header.frames > 1 or not boxes:
        return 1
    box_w = max(box[0] for box in boxes)
    box_h = max(box[1] for box in boxes)
    if header.transposed:  # the box is in display orientation; orientations 5-8 swap it
        box_w = box_h = max(box_w, box_h)
    scale = min(header.width // box_w, header.height // box_h)
    return next((s for s in (8, 4, 2) if scale >= s), 1)


def _output_box(recipe: Recipe, source: tuple[int, int]) -> tuple[int, int]:
    """An upper bound of the rendered size (`imaging.plan_geometry`): never more than the box, and
    never more than the source on either axis unless upscaling; `fill` pads to the whole box."""
    if recipe.upscale or recipe.fit == "fill":
        return recipe.width, recipe.height
    return min(recipe.width, source[0]), min(recipe.height, source[1])


def _resize_bytes(source: tuple[int, int], out: tuple[int, int], bpp: int, premultiply: bool) -> int:
    """The two-pass resize of `imaging._transform` on top of its input: the premultiplied copy, the
    integer `reduce` Pillow does first (reducing_gap 3) and the first pass' intermediate."""
    src_w, src_h = source
    out_w, out_h = out
    pixels = src_w * src_h
    premultiplied = pixels * bpp if premultiply else 0
    horizontal_first = out_w * src_h <= src_w * out_h
    intermediate = out_w * src_h if horizontal_first else src_w * out_h
    factor = int((src_w / out_w if horizontal_first else src_h / out_h) / 3) or 1
    reduced = pixels // factor if factor > 1 else 0
    return premultiplied + (reduced + intermediate) * bpp + out_w * out_h * bpp


def _render_bytes(header: SourceHeader, recipe: Recipe, source: tuple[int, int], bpp: int) -> int:
    """One rendition on top of the held source: resize (per frame), output frames, encoder."""
    out_w, out_h = _output_box(recipe, source)
    out_pixels = out_w * out_h
    animated = header.frames > 1 and recipe.output.supports_animation
    premultiply = header.alpha or animated  # RGBA/LA are premultiplied around the resize
    resize = _resize_bytes(source, (out_w, out_h), bpp, premultiply)
    pad = 3 * out_pixels * 4 if recipe.fit == "fill" else 0
    encoder = int(out_pixels * _ENCODER_BYTES[recipe.format])
    if not animated:
        return max(resize, pad) + encoder
    # Every frame decoded at canvas size (converted to RGBA and oriented), resized, and kept.
    per_frame = source[0] * source[1] * 4 * 2 + resize
    kept = int(header.frames * out_pixels * _ANIMATED_FRAME_BYTES[recipe.format])
    return per_frame + kept + encoder


def estimate(
    header: SourceHeader,
    recipes: Iterable[Recipe] = (),
    *,
    draft_boxes: Sequence[tuple[int, int]] | None = None,
) -> MemoryEstimate:
    """Bytes held at each stage of decoding `header`'s source and rendering `recipes` in turn.
    `draft_boxes`: what JPEG draft decoding is asked for (None: `draft_boxes_of(recipes)`)."""
    recipes = list(recipes)
    scale = draft_scale(header, draft_boxes_of(recipes) if draft_boxes is None else draft_boxes)
    width, height = -(-header.width // scale), -(-header.height // scale)
    pixels = width * height
    held_bytes = header.source_bytes + SCRATCH_BYTES
    decoded = pixels * bytes_per_pixel(header.mode)
    decoder_peak, decoder_held = _decoder_bytes(header)
    coefficients = 0
    if header.format in ("JPEG", "MPO") and header.progressive:
        coefficients = int(header.pixels * header.samples_per_pixel * 2)  # full size, whatever the draft
    stages = {"decode": held_bytes + decoded + int(pixels * decoder_peak) + coefficients}
    base = held_bytes + decoded + int(pixels * decoder_held)
    if header.frames > 1:
        # The open animation stays for lazy frame decoding; frame 0 is converted to RGBA (+ oriented).
        base += int(pixels * _ANIMATION_STATE_BYTES)
        normalised_bpp = 4
        stages["convert"] = base + pixels * 4 * (2 if header.transposed else 1)
        held = base + pixels * 4
    else:
        normalised_bpp, converting = _normalise(header)
        copy = pixels * normalised_bpp if converting else 0
        stages["convert"] = base + int(pixels * _conversion_bytes(header))
        if header.transposed:
            stages["orient"] = base + copy + pixels * normalised_bpp
        # Once load_source returns, the normalised frame lives; unconverted and upright, that frame
        # is the opened image itself, with its decoder's buffers.
        held = held_bytes + pixels * normalised_bpp if converting or header.transposed else base
    for index, recipe in enumerate(recipes):
        stages[f"render {index + 1} ({recipe.format} {recipe.width}x{recipe.height})"] = held + _render_bytes(
            header, recipe, (width, height), normalised_bpp
        )
    return MemoryEstimate(stages)


def _decoder_bytes(header: SourceHeader) -> tuple[float, float]:
    """(peak while decoding, held while the opened image lives), bytes per decoded pixel."""
    if header.format == "HEIF":
        peak = _HEIF_DECODER_BYTES[header.bit_depth > 8, header.samples_per_pixel > 1.5]
        return peak + (_HEIF_ALPHA_BYTES[header.bit_depth > 8] if header.alpha else 0.0), 0.0
    return _DECODER_BYTES.get(header.format, (0.0, 0.0))


def _normalise(header: SourceHeader) -> tuple[int, bool]:
    """(bytes per pixel after `imaging.normalise_mode`, whether it makes a new image)."""
    mode = header.mode
    if mode in _GREY_AFTER_NORMALISE:
        return 1, mode != "L"
    if mode in ("L", "LA", "RGB", "RGBA"):
        return (1 if mode == "L" else 4), header.has_icc and mode in ("RGB", "RGBA")
    return 4, True  # P, PA, CMYK, RGBa, RGBX, La, YCbCr, ...: converted to RGB(A)


def _conversion_bytes(header: SourceHeader) -> float:
    """Working copies of `imaging.normalise_mode` beyond the decoded image, per pixel."""
    mode = header.mode
    if mode in _TWO_BYTE_MODES or mode == "I":
        return 4 + 4  # convert("I"), then point() makes another 32-bit image before the 8-bit one
    if mode in ("F", "1"):
        return 1
    if mode == "RGBA" and header.has_icc:
        return 1 + 4 + 4  # alpha band, RGB copy, the converted image
    if mode == "L" or (mode in ("RGB", "RGBA", "LA") and not header.has_icc):
        return 0
    return 4


def fits(
    header: SourceHeader,
    recipes: Iterable[Recipe],
    memory_mb: int,
    *,
    draft_boxes: Sequence[tuple[int, int]] | None = None,
) -> bool:
    """Whether the estimate's peak is within `usable_bytes(memory_mb)`."""
    return estimate(header, recipes, draft_boxes=draft_boxes).peak_bytes <= usable_bytes(memory_mb)


def largest_fitting_pixels(
    header: SourceHeader,
    recipes: Sequence[Recipe],
    memory_mb: int,
    *,
    upper: int,
    draft_boxes: Sequence[tuple[int, int]] | None = None,
) -> int:
    """The largest square source (pixels, <= `upper`) like `header` that fits: the per-format cap.
    Animations keep `header.frames` frames and share `upper` between them (the decoder's budget)."""

    frames = max(1, header.frames)
    low, high = 0, math.isqrt(upper // frames)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(replace(header, width=middle, height=middle), recipes, memory_mb, draft_boxes=draft_boxes):
            low = middle
        else:
            high = middle - 1
    return min(upper, low * low * frames)


# The inputs docs/workers.md and the benchmark name: each accepted format in its most expensive
# common decoded mode (the worker decides from the real header; these are what caps are quoted for).
REFERENCE_SOURCES: dict[str, SourceHeader] = {
    "JPEG (baseline, 4:2:0)": SourceHeader(
        "JPEG", 1, 1, "RGB", alpha=False, progressive=False, samples_per_pixel=1.5
    ),
    "JPEG (progressive, 4:4:4)": SourceHeader("JPEG", 1, 1, "RGB", alpha=False, samples_per_pixel=3.0),
    "PNG RGB": SourceHeader("PNG", 1, 1, "RGB", alpha=False),
    "PNG RGBA": SourceHeader("PNG", 1, 1, "RGBA"),
    "PNG 16-bit grey": SourceHeader("PNG", 1, 1, "I;16"),
    "PNG palette": SourceHeader("PNG", 1, 1, "P"),
    "WebP": SourceHeader("WEBP", 1, 1, "RGBA"),
    "GIF": SourceHeader("GIF", 1, 1, "P"),
    "TIFF RGB": SourceHeader("TIFF", 1, 1, "RGB", alpha=False),
    "AVIF": SourceHeader("AVIF", 1, 1, "RGBA"),
    "BMP palette": SourceHeader("BMP", 1, 1, "P"),
    # pi-heif applies the container's rotation while decoding and reports orientation 1: never
    # transposed by imaging.py. iPhones write 8-bit 4:2:0 with a Display P3 profile.
    "HEIF (8-bit 4:2:0, iPhone)": SourceHeader(
        "HEIF", 1, 1, "RGB", transposed=False, alpha=False, samples_per_pixel=1.5, bit_depth=8
    ),
    "HEIF (10-bit 4:4:4)": SourceHeader("HEIF", 1, 1, "RGBA", transposed=False, samples_per_pixel=3.0),
}
# The largest HEIC an iPhone writes: "HEIF Max", 48 MP (8064 x 6048) on the 48 MP main cameras
# (iPhone 14 Pro and later; https://www.iphonefaq.org/archives/978506, a third-party page: Apple
# documents the setting, not the pixel count). Synth refuses a deployment that accepts .heic/.heif
# uploads but could not render one (`shortfalls(..., heif=True)`).
HEIF_PHONE_PIXELS = 8064 * 6048


def reference_animation(fmt: str, frames: int) -> SourceHeader:
    """An animated GIF (palette frames) or WebP (RGBA) of `frames` frames."""
    return SourceHeader(fmt, 1, 1, "P" if fmt == "GIF" else "RGBA", frames=frames, has_icc=False)


@dataclass(frozen=True)
class Shortfall:
    """A configured cap no source can reach at this memory size: `source` at the cap needs
    `needed_mb` of the `usable_mb` the function has for it (a function of `memory_needed_mb` would
    hold it); `largest` is the cap it can keep instead (pixels; all frames for an animation)."""

    limit: str  # "maxSourcePixels", "maxFrames" or "inputSuffixes": the cdk.json field at fault
    source: str
    needed_mb: float
    usable_mb: float
    memory_needed_mb: int
    largest: int


def shortfalls(
    memory_mb: int,
    recipe_sets: Sequence[Sequence[Recipe]],
    *,
    max_source_pixels: int,
    max_frames: int,
    max_source_bytes: int,
    heif: bool = False,
) -> list[Shortfall]:
    """The caps a deployment promises but could not keep: a JPEG (the format that reaches the pixel
    cap with the least memory, thanks to draft decoding; progressive 4:4:4, rotated, ICC-tagged) at
    `max_source_pixels`, and animated GIF and WebP of `max_frames` frames sharing that budget, each
    rendering every recipe set (one set per invocation), with `max_source_bytes` of encoded bytes
    held. With `heif` (the trigger accepts .heic/.heif uploads), an iPhone's largest HEIC too
    (HEIF_PHONE_PIXELS, at most `max_source_pixels`): phones upload it as it is. Other formats need
    more per pixel; the workers refuse those above their own caps (`largest_fitting_pixels`) from
    the header, so they are not shortfalls."""
    side = math.isqrt(max_source_pixels)
    frame_side = math.isqrt(max_source_pixels // max(1, max_frames))
    jpeg = REFERENCE_SOURCES["JPEG (progressive, 4:4:4)"]
    candidates = [("maxSourcePixels", "a progressive 4:4:4 JPEG", replace(jpeg, width=side, height=side))]
    if max_frames > 1:
        candidates += [
            (
                "maxFrames",
                f"an animated {fmt} of {max_frames} frames",
                replace(reference_animation(fmt, max_frames), width=frame_side, height=frame_side),
            )
            for fmt in ("GIF", "WEBP")
        ]
    if heif:
        scale = min(1.0, math.sqrt(max_source_pixels / HEIF_PHONE_PIXELS))
        phone = replace(
            REFERENCE_SOURCES["HEIF (8-bit 4:2:0, iPhone)"],
            width=max(1, math.floor(8064 * scale)),
            height=max(1, math.floor(6048 * scale)),
        )
        candidates.append(("inputSuffixes", "an iPhone's largest HEIC (HEIF Max, 8-bit 4:2:0)", phone))
    usable = usable_bytes(memory_mb)
    found = []
    for limit, name, reference in candidates:
        header = replace(reference, source_bytes=max_source_bytes)
        for recipes in recipe_sets:
            needed = estimate(header, recipes).peak_bytes
            if needed > usable:
                largest = largest_fitting_pixels(header, recipes, memory_mb, upper=max_source_pixels)
                found.append(
                    Shortfall(
                        limit, name, needed / MIB, usable / MIB, memory_needed_mb(header, recipes), largest
                    )
                )
                break
    return found


def memory_needed_mb(header: SourceHeader, recipes: Sequence[Recipe]) -> int:
    """The smallest function memory (MB) whose usable share holds `header` rendering `recipes`."""
    needed = estimate(header, recipes).peak_bytes
    return math.ceil((needed + HANDLER_BASELINE_MB * MIB) / (1 - MEMORY_MARGIN) / MIB)
