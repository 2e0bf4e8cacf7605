"""Image operations: decode once (`load_source`), render many (`render`), or both (`render_bytes`).

Pure functions over bytes and Pillow images: no S3, no environment, so the benchmark can call them.
Colour pipeline: EXIF/XMP orientation applied once (by Pillow's `ImageOps.exif_transpose`, after
`load()`: Pillow's TIFF loader transposes by itself), every mode normalised to L/LA/RGB/RGBA (a PNG
`tRNS` colour key becomes alpha), embedded ICC profiles converted to sRGB (outputs are sRGB; the
profile is embedded only when metadata is kept).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from PIL import ExifTags, Image, ImageOps

from lambdas.core.attention import SaliencyMap, saliency_map
from lambdas.core.decode import (
    ANIMATABLE_INPUT_FORMATS,
    DecodeLimits,
    check_memory,
    header_orientation,
    open_untrusted,
    pillow_guard,
)
from lambdas.core.plugins import ensure_plugin
from lambdas.core.recipe import FocalPoint, Recipe

if TYPE_CHECKING:
    from PIL import ImageCms

EXIF_ORIENTATION = ExifTags.Base.Orientation
# A TIFF's EXIF (Pillow's getexif()) is its whole first IFD: these fields say how the source file
# stored its pixels (and its own ICC profile), so kept metadata must not carry them into a rendition.
_TIFF_STORAGE_TAGS = frozenset(
    getattr(ExifTags.Base, name)
    for name in (
        "NewSubfileType", "SubfileType", "ImageWidth", "ImageLength", "BitsPerSample", "Compression",
        "PhotometricInterpretation", "Thresholding", "FillOrder", "StripOffsets", "SamplesPerPixel",
        "RowsPerStrip", "StripByteCounts", "MinSampleValue", "MaxSampleValue", "PlanarConfiguration",
        "Predictor", "ColorMap", "TileWidth", "TileLength", "TileOffsets", "TileByteCounts",
        "ExtraSamples", "SampleFormat", "JPEGTables", "YCbCrSubSampling", "ReferenceBlackWhite",
        "TransferFunction", "InterColorProfile",
    )
)  # fmt: skip
# reduce() by an integer factor first while the image is still >= 3x the target, then LANCZOS.
REDUCING_GAP = 3.0
RESAMPLE = Image.Resampling.LANCZOS
DEFAULT_FRAME_MS = 100
# Encoder speed/size trade-offs, one place for the benchmark to read.
PNG_COMPRESS_LEVEL = 6
# zlib's run-length strategy: after PNG's adaptive row filters a photo has few long matches, so
# RLE is 2-3x faster than the default strategy at the same level and its files are as small
# (measured: 1200 px photo 153 ms / 2.56 MB vs 417 ms / 2.56 MB); flat graphics grow ~20%.
PNG_COMPRESS_TYPE = zlib.Z_RLE
WEBP_METHOD = 4
AVIF_SPEED = 6
GIF_QUANTIZER = Image.Quantize.FASTOCTREE


@dataclass(frozen=True)
class RenderedImage:
    """One encoded rendition."""

    data: bytes
    width: int
    height: int
    format: str  # canonical recipe format name: jpeg, png, webp, gif, avif
    content_type: str
    frames: int = 1


@dataclass
class SourceImage:
    """A decoded, oriented, sRGB source that can be rendered many times."""

    first_frame: Image.Image
    source_format: str
    exif: Image.Exif | None = None
    # Animated sources keep the open image and decode frames lazily per render (memory stays at one
    # full-size frame); durations are in milliseconds.
    _animation: Image.Image | None = field(default=None, repr=False)
    _orientation: int = 1
    frame_count: int = 1
    loop: int = 0
    _released: tuple[int, int] | None = field(default=None, repr=False)  # size, once taken
    _saliency: SaliencyMap | None = field(default=None, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        return self._released or self.first_frame.size

    def saliency(self) -> SaliencyMap:
        """The first frame's attention map (`lambdas.core.attention`), computed once per source."""
        if self._saliency is None:
            self._saliency = saliency_map(self.still_frame())
        return self._saliency

    def still_frame(self, *, release: bool = False) -> Image.Image:
        """The decoded first frame. `release=True` hands it over (its new owner may free it) and
        leaves this source unusable: rendering it again raises instead of using a placeholder."""
        if self._released is not None:
            raise RuntimeError("the source frame was released by an earlier render")
        frame = self.first_frame
        if release:
            self._released = frame.size
            self.first_frame = Image.new(frame.mode, (1, 1))  # placeholder: drops the reference
        return frame

    @property
    def is_animated(self) -> bool:
        return self._animation is not None

    def frames(self) -> Iterator[tuple[Image.Image, int]]:
        """(frame, duration ms) for every frame, oriented and normalised; one frame when not animated."""
        if self._animation is None:
            yield self.still_frame(), 0
            return
        with pillow_guard("fileLocation"):
            for index in range(self.frame_count):
                self._animation.seek(index)
                self._animation.load()  # WebP reports a frame's duration only once it is loaded
                duration = int(self._animation.info.get("duration") or DEFAULT_FRAME_MS)
                frame = self.first_frame if index == 0 else self._animation.convert("RGBA")
                yield (frame if index == 0 else _orient(frame, self._orientation)), duration


@dataclass(frozen=True)
class Geometry:
    """Where the output pixels come from: a crop of the source, resized, optionally padded."""

    crop: tuple[float, float, float, float]
    size: tuple[int, int]
    canvas: tuple[int, int] | None = None

    @property
    def output_size(self) -> tuple[int, int]:
        return self.canvas or self.size


def cover_crop(source: tuple[int, int], box: tuple[int, int]) -> tuple[float, float]:
    """The size of the largest region of `source` with `box`'s aspect ratio (a `cover` crop)."""
    src_w, src_h = source
    box_w, box_h = box
    return min(float(src_w), src_h * box_w / box_h), min(float(src_h), src_w * box_h / box_w)


def plan_geometry(
    source: tuple[int, int], recipe: Recipe, *, focus: tuple[float, float] = (0.5, 0.5)
) -> Geometry:
    """Compute crop, resize and padding for `fit`, honouring `upscale` (never enlarge by default).
    `focus` (fractions of the source) is where a `cover` crop is centred, as far as the edges allow."""
    src_w, src_h = source
    box_w, box_h = recipe.width, recipe.height
    full = (0.0, 0.0, float(src_w), float(src_h))
    if recipe.fit == "stretch":
        if recipe.upscale:
            return Geometry(full, (box_w, box_h))
        return Geometry(full, (min(box_w, src_w), min(box_h, src_h)))
    if recipe.fit == "cover":
        # The largest region of the source with the box's aspect ratio, around the focus.
        crop_w, crop_h = cover_crop(source, (box_w, box_h))
        left = min(max(focus[0] * src_w - crop_w / 2, 0.0), src_w - crop_w)
        top = min(max(focus[1] * src_h - crop_h / 2, 0.0), src_h - crop_h)
        crop = (left, top, left + crop_w, top + crop_h)
        if recipe.upscale or crop_w >= box_w:
            return Geometry(crop, (box_w, box_h))
        return Geometry(crop, (max(1, round(crop_w)), max(1, round(crop_h))))
    scale = min(box_w / src_w, box_h / src_h)
    if not recipe.upscale:
        scale = min(scale, 1.0)
    size = (
        min(box_w, max(1, round(src_w * scale))),
        min(box_h, max(1, round(src_h * scale))),
    )
    if recipe.fit == "fill":
        return Geometry(full, size, canvas=(box_w, box_h))
    return Geometry(full, size)


def source_geometry(source: SourceImage, recipe: Recipe) -> Geometry:
    """`plan_geometry` with the recipe's gravity resolved against this source: a focal point as
    given, "smart" from the source's attention map (`SourceImage.saliency`), else the centre."""
    gravity = recipe.gravity
    if recipe.fit != "cover" or gravity == "centre":
        return plan_geometry(source.size, recipe)
    if isinstance(gravity, FocalPoint):
        return plan_geometry(source.size, recipe, focus=(gravity.x, gravity.y))
    crop = cover_crop(source.size, (recipe.width, recipe.height))
    return plan_geometry(source.size, recipe, focus=source.saliency().focus(source.size, crop))


def _orientation(image: Image.Image) -> int:
    """The EXIF (or XMP tiff:Orientation) value Pillow reads; 1 when absent or invalid."""
    value = image.getexif().get(EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and value in range(1, 9) else 1


def _orient(frame: Image.Image, orientation: int) -> Image.Image:
    """Transpose `frame` (a private copy) for `orientation` with Pillow's own exif_transpose: an
    animation's orientation is read once and applied to every frame, whatever the frame's metadata."""
    if orientation != 1:
        frame.getexif()[EXIF_ORIENTATION] = orientation
        ImageOps.exif_transpose(frame, in_place=True)
    return frame


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    from PIL import ImageCms  # lazy: only colour-managed sources or kept metadata need LittleCMS

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert colour-managed RGB/CMYK pixels to sRGB; a broken profile is ignored (assumed sRGB)."""
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    from PIL import ImageCms  # lazy, as in _srgb_profile: sources without a profile never load it

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        colour = image.convert("RGB") if image.mode == "RGBA" else image
        converted = ImageCms.profileToProfile(
            colour, profile, _srgb_profile(), renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    if converted is None:  # only when inPlace=True, which is not used
        return image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def normalise_mode(image: Image.Image) -> Image.Image:
    """Any decoded mode -> L, LA, RGB or RGBA in sRGB."""
    icc = image.info.get("icc_profile")
    mode = image.mode
    colour_key = image.info.get("transparency")  # PNG tRNS of a grey/RGB image: one transparent colour
    if mode.startswith("I;16") or mode == "I":
        # 16-bit and 32-bit integer grey: scale to 8 bits (convert() alone would clip at 255).
        wide = image.convert("I")
        # Compared at 16 bits: Pillow's own convert("LA") compares after clipping to 8 bits.
        alpha = _colour_key_alpha(wide, colour_key) if isinstance(colour_key, int) else None
        scaled = wide.point(lambda value: value * (1 / 256))
        del wide  # two 32-bit copies at most (the memory model's count), not three
        image = scaled.convert("L")
        del scaled
        if alpha is not None:
            image.putalpha(alpha)
    elif mode in ("1", "L", "RGB") and colour_key is not None:
        image = image.convert("RGBA" if mode == "RGB" else "LA")
    elif mode in {"F", "1"}:
        image = image.convert("L")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("RGBa", "RGBX"):
        image = image.convert("RGBA" if mode == "RGBa" else "RGB")
    elif mode == "La":
        image = image.convert("LA")
    elif mode == "CMYK":
        converted = _to_srgb(image, icc)
        return converted if converted.mode == "RGB" else image.convert("RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")
    return _to_srgb(image, icc)


def _colour_key_alpha(grey: Image.Image, key: int) -> Image.Image:
    """Alpha (L) of an "I" image: 0 where the pixel equals the tRNS key, 255 elsewhere."""
    from PIL import ImageMath  # lazy: only 16-bit grey PNGs with a colour key need it

    alpha = ImageMath.lambda_eval(lambda args: (args["grey"] != key) * 255, grey=grey)
    assert isinstance(alpha, Image.Image)
    return alpha.convert("L")


def _draft_box(image: Image.Image, boxes: Iterable[tuple[int, int]]) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when every requested box is that much smaller."""
    if image.format not in ("JPEG", "MPO"):
        return
    boxes = list(boxes)
    if not boxes:
        return
    width = max(box[0] for box in boxes)
    height = max(box[1] for box in boxes)
    if _orientation(image) in (5, 6, 7, 8):  # the box is in display orientation, the JPEG is stored rotated
        width, height = height, width
    image.draft(image.mode, (width, height))


def load_source(
    data: bytes,
    limits: DecodeLimits | None = None,
    *,
    target_boxes: Iterable[tuple[int, int]] = (),
    recipes: Sequence[Recipe] = (),
) -> SourceImage:
    """Decode once. `target_boxes` (the largest outputs you will ask for) enables JPEG draft decoding;
    leave it empty when any output might need full resolution (e.g. upscale=true). `recipes` are the
    renditions that will be rendered from it, one at a time: the memory check before decoding
    (`decode.check_memory`) counts them on top of the decoded source."""
    limits = limits or DecodeLimits()
    image = open_untrusted(data, limits)
    with pillow_guard("fileLocation"):
        target_boxes = list(target_boxes)
        # Before getexif(): a PNG's decodes every pixel when its EXIF may follow them.
        check_memory(
            image, len(data), limits, recipes, orientation=header_orientation(image), draft_boxes=target_boxes
        )
        animated = image.format in ANIMATABLE_INPUT_FORMATS and getattr(image, "is_animated", False)
        if not animated:
            _draft_box(image, target_boxes)
        image.load()
        # Read after load(): Pillow's TIFF loader has then transposed the pixels and dropped the tag,
        # so a TIFF is not turned a second time; other formats still carry it.
        orientation = _orientation(image)
        source_format = image.format or "UNKNOWN"
        frame_count = int(getattr(image, "n_frames", 1)) if animated else 1
        if animated:
            first = _orient(image.convert("RGBA"), orientation)
            loop = int(image.info.get("loop", 0) or 0)
        else:
            # In place (a still image's decoder is done with its pixels): no extra full-size copy.
            ImageOps.exif_transpose(image, in_place=True)
            first = normalise_mode(image)
            loop = 0
        exif = image.getexif()  # exif_transpose removed the tag; kept metadata says "upright"
    if EXIF_ORIENTATION in exif or orientation != 1:
        exif[EXIF_ORIENTATION] = 1
    if source_format == "TIFF":
        for tag in _TIFF_STORAGE_TAGS.intersection(exif):
            del exif[tag]
    return SourceImage(
        first_frame=first,
        source_format=source_format,
        exif=exif if len(exif) else None,
        _animation=image if animated else None,
        _orientation=orientation,
        frame_count=frame_count,
        loop=loop,
    )


_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}


def _transform(frame: Image.Image, geometry: Geometry, recipe: Recipe) -> Image.Image:
    """Crop/resize (+ pad) one frame.

    The resize is Lanczos (after an integer box reduce while >= REDUCING_GAP x the target) in two
    separable passes, the one with the smaller intermediate first: what Pillow's resize does
    internally (its pass order can differ, so pixels differ by rounding: a few levels at most),
    but done here so that a frame nobody else holds
    (`render(..., release_source=True)`, used by `render_bytes`) is freed between the passes. Peak
    memory is then source + one intermediate instead of source + intermediate + output (-7 MB on a
    12 MP JPEG drafted to 2000x1500 for a 1600x1200 output). Alpha is premultiplied once around both
    passes, as Pillow does around its single call."""
    left, top, right, bottom = geometry.crop
    if geometry.size == frame.size and geometry.crop == (0.0, 0.0, float(frame.width), float(frame.height)):
        out = frame.copy()
    else:
        mode = frame.mode
        if mode in _PREMULTIPLIED:
            frame = frame.convert(_PREMULTIPLIED[mode])
        width, height = geometry.size
        if width * frame.height <= frame.width * height:  # the smaller intermediate first
            # All rows/columns of the intermediate, so the second pass' kernel reaches beyond the
            # crop as Pillow's does (its support is clamped to the image, not to the box).
            frame = frame.resize(
                (width, frame.height), RESAMPLE, box=(left, 0, right, frame.height), reducing_gap=REDUCING_GAP
            )
            second_box = (0.0, top, float(width), bottom)
        else:
            frame = frame.resize(
                (frame.width, height), RESAMPLE, box=(0, top, frame.width, bottom), reducing_gap=REDUCING_GAP
            )
            second_box = (left, 0.0, right, float(height))
        out = frame.resize(geometry.size, RESAMPLE, box=second_box, reducing_gap=REDUCING_GAP)
        if mode in _PREMULTIPLIED:
            out = out.convert(mode)
    del frame
    if geometry.canvas is not None:
        out = _pad(out, geometry.canvas, recipe)
    out.info = {}  # never leak source metadata (EXIF, XMP, text chunks, ICC) into the output
    return out


def _pad(image: Image.Image, canvas: tuple[int, int], recipe: Recipe) -> Image.Image:
    colour: tuple[int, ...]
    if recipe.background is None and recipe.output.supports_alpha:
        mode, colour = "RGBA", (0, 0, 0, 0)
        image = image.convert("RGBA")
    else:
        rgb = _hex_rgb(recipe.background or "#ffffff")
        mode = "RGBA" if image.mode in ("RGBA", "LA") else "RGB"
        colour = (*rgb, 255) if mode == "RGBA" else rgb
        image = image.convert(mode)
    result = Image.new(mode, canvas, colour)
    offset = ((canvas[0] - image.width) // 2, (canvas[1] - image.height) // 2)
    result.paste(image, offset, image if mode == "RGBA" else None)
    return result


def _hex_rgb(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _flatten(image: Image.Image, background: str | None) -> Image.Image:
    """Alpha -> opaque over the background colour (JPEG has no alpha)."""
    if image.mode not in ("RGBA", "LA"):
        return image
    rgb = _hex_rgb(background or "#ffffff")
    base = Image.new("RGB", image.size, rgb)
    base.paste(image.convert("RGB"), (0, 0), image.getchannel("A"))
    return base if image.mode == "RGBA" else base.convert("L")


def _gif_frame(image: Image.Image) -> Image.Image:
    """RGB(A)/L -> palette with a fast quantizer; alpha below 50% becomes the transparent index 255."""
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        paletted = rgba.convert("RGB").quantize(255, method=GIF_QUANTIZER)
        transparent = rgba.getchannel("A").point(lambda alpha: 255 if alpha < 128 else 0)
        paletted.paste(255, (0, 0), transparent)
        paletted.info["transparency"] = 255
        return paletted
    return image.convert("RGB").quantize(256, method=GIF_QUANTIZER)


def _metadata(source: SourceImage, recipe: Recipe) -> dict[str, bytes]:
    if recipe.strip_metadata:
        return {}
    extra = {"icc_profile": _srgb_profile().tobytes()}
    if source.exif is not None:
        extra["exif"] = source.exif.tobytes()
    return extra


def encode(
    frames: list[Image.Image], source: SourceImage, recipe: Recipe, durations: list[int] | None = None
) -> bytes:
    """Per-format encoder settings; deterministic (no timestamps) so a retry rewrites identical bytes."""
    fmt = recipe.output
    ensure_plugin(fmt.pil_format)
    buffer = io.BytesIO()
    extra = _metadata(source, recipe)
    animated = len(frames) > 1
    if fmt.name == "jpeg":
        image = _flatten(frames[0], recipe.background)
        image.save(buffer, "JPEG", quality=recipe.quality, optimize=True, progressive=True, **extra)
    elif fmt.name == "png":
        frames[0].save(
            buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_COMPRESS_TYPE, **extra
        )
    elif fmt.name == "webp":
        # convert() to the same mode copies: an animation would hold every frame twice.
        modes = ["RGBA" if f.mode in ("RGBA", "LA") else "RGB" for f in frames]
        converted = [f if f.mode == mode else f.convert(mode) for f, mode in zip(frames, modes, strict=True)]
        options: dict[str, object] = {"quality": recipe.quality, "method": WEBP_METHOD, **extra}
        if animated:
            options |= {
                "save_all": True,
                "append_images": converted[1:],
                "duration": durations or [DEFAULT_FRAME_MS] * len(frames),
                "loop": source.loop,
            }
        converted[0].save(buffer, "WEBP", **options)
    elif fmt.name == "gif":
        paletted = [_gif_frame(f) for f in frames]
        options = {"optimize": False}
        if "transparency" in paletted[0].info:
            options["transparency"] = 255
        if animated:
            options |= {
                "save_all": True,
                "append_images": paletted[1:],
                "duration": durations or [DEFAULT_FRAME_MS] * len(frames),
                "loop": source.loop,
                "disposal": 2,
            }
        paletted[0].save(buffer, "GIF", **options)
    elif fmt.name == "avif":
        image = frames[0].convert("RGBA" if frames[0].mode in ("RGBA", "LA") else "RGB")
        image.save(buffer, "AVIF", quality=recipe.quality, speed=AVIF_SPEED, **extra)
    else:  # pragma: no cover - OUTPUT_FORMATS and this function change together
        raise AssertionError(f"no encoder for {fmt.name}")
    return buffer.getvalue()


def render(source: SourceImage, recipe: Recipe, *, release_source: bool = False) -> RenderedImage:
    """One rendition of an already decoded source. `release_source=True` hands the decoded frame
    over to the resize, which frees it as soon as it is no longer needed: the source cannot be
    rendered again afterwards (for single-use callers such as `render_bytes`)."""
    geometry = source_geometry(source, recipe)
    keep_animation = source.is_animated and recipe.output.supports_animation
    # Decoding errors of lazily read frames are typed inside SourceImage.frames(); errors raised
    # here (resize, encode) are bugs or resource problems and must not pose as corrupt input.
    frames, durations = [], []
    if keep_animation:
        for frame, duration in source.frames():
            frames.append(_transform(frame, geometry, recipe))
            durations.append(duration)
    else:
        # The argument is the only reference when released (CPython moves call arguments into the
        # callee), so _transform can drop the full-size frame after its first pass.
        frames.append(_transform(source.still_frame(release=release_source), geometry, recipe))
    data = encode(frames, source, recipe, durations)
    width, height = geometry.output_size
    return RenderedImage(data, width, height, recipe.format, recipe.output.content_type, len(frames))


def _shared_frame_key(source: SourceImage, recipe: Recipe) -> tuple[object, ...] | None:
    """What `_transform` reads of a recipe: renditions with equal keys get identical frames (formats
    of one size); None for an animation kept as one, whose frames are transformed per render."""
    if source.is_animated and recipe.output.supports_animation:
        return None
    geometry = source_geometry(source, recipe)
    padding = (recipe.background, recipe.output.supports_alpha) if geometry.canvas is not None else None
    return geometry, padding


def render_each(source: SourceImage, recipes: Sequence[Recipe]) -> Iterator[tuple[int, RenderedImage]]:
    """Every recipe from one decoded source, as (index in `recipes`, rendition), one at a time.

    Renditions that differ only in what the encoder does (the formats of one size) share one
    resized frame, so 2 formats x 2 sizes resize twice, not four times; those groups are rendered
    together (in order of their first recipe), so only one resized frame is held at a time, and
    the source frame is released to the last group's resize. Bytes are those `render` gives."""
    groups: dict[tuple[object, ...] | int, list[int]] = {}
    for index, recipe in enumerate(recipes):
        groups.setdefault(_shared_frame_key(source, recipe) or index, []).append(index)
    for number, indices in enumerate(groups.values()):
        last = number == len(groups) - 1
        first = recipes[indices[0]]
        if _shared_frame_key(source, first) is None:  # a kept animation: one group per recipe
            yield indices[0], render(source, first)
            continue
        geometry = source_geometry(source, first)
        frame = _transform(source.still_frame(release=last), geometry, first)
        width, height = geometry.output_size
        for index in indices:
            recipe = recipes[index]
            data = encode([frame], source, recipe)
            yield index, RenderedImage(data, width, height, recipe.format, recipe.output.content_type)
        del frame


def render_bytes(data: bytes, recipe: Recipe, limits: DecodeLimits | None = None) -> RenderedImage:
    """Decode `data` and render one rendition (JPEG draft decoding applies unless upscaling)."""
    boxes = [] if recipe.upscale else [(recipe.width, recipe.height)]
    return render(
        load_source(data, limits, target_boxes=boxes, recipes=[recipe]), recipe, release_source=True
    )
