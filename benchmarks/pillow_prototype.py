"""A tuned Pillow pipeline, kept in benchmarks/ to prove which Pillow techniques close the gap to
libvips (JPEG DCT-domain `draft()`, `reducing_gap` box pre-reduction, encoder settings) and to
split a rendition's time into decode / resize / encode. It is a yardstick for imgpipe's core,
not a second implementation of it: imgpipe's Lambdas use `lambdas.core`.
"""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from benchmarks import settings
from benchmarks.engines import Engine
from benchmarks.jobs import Rendition, expected_size

REDUCING_GAP = 3.0  # box-reduce to within 3x of the target, then Lanczos: invisible loss, big speed-up


def pillow_save_options(fmt: str) -> tuple[str, dict[str, Any]]:
    match fmt:
        case "jpg":
            return "JPEG", {
                "quality": settings.JPEG_QUALITY,
                "subsampling": "4:2:0",
                "progressive": settings.JPEG_PROGRESSIVE,
                "optimize": True,
            }
        case "webp":
            return "WEBP", {"quality": settings.WEBP_QUALITY, "method": settings.WEBP_EFFORT}
        case "avif":
            return "AVIF", {"quality": settings.AVIF_QUALITY, "speed": settings.AVIF_SPEED}
        case "png":
            # The same zlib strategy as lambdas.core.imaging, so the decode/resize/encode split is imgpipe's.
            return "PNG", {"compress_level": settings.PNG_COMPRESSION, "compress_type": zlib.Z_RLE}
        case "gif":
            return "GIF", {}
    raise ValueError(f"format {fmt!r} not benchmarked")


@dataclass
class Split:
    decode_s: float = 0.0
    resize_s: float = 0.0
    encode_s: float = 0.0


def _decode(source: bytes, draft_to: tuple[int, int] | None) -> Image.Image:
    image = Image.open(io.BytesIO(source))
    if draft_to is not None and image.format == "JPEG":
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale while staying >= the target (libvips' shrink-on-load):
        # measured loss on job C <= 0.1 dB PSNR, 2x faster at 1600 px.
        image.draft("RGB", draft_to)
    image.load()
    return image.convert("RGB") if image.mode != "RGB" else image


def _resize(image: Image.Image, size: tuple[int, int], tuned: bool) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP if tuned else None)


def _encode(image: Image.Image, fmt: str) -> bytes:
    pil_format, options = pillow_save_options(fmt)
    if fmt == "gif":
        image = image.quantize(
            settings.GIF_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
        )
    buffer = io.BytesIO()
    image.save(buffer, pil_format, **options)
    return buffer.getvalue()


def render_one(
    source: bytes, rendition: Rendition, *, tuned: bool = True, split: Split | None = None
) -> bytes:
    """Decode, resize, encode one rendition; `split` accumulates where the time goes."""
    t0 = time.perf_counter()
    with Image.open(io.BytesIO(source)) as probe:
        size = expected_size(probe.size, rendition)
    image = _decode(source, size if tuned else None)
    t1 = time.perf_counter()
    resized = _resize(image, size, tuned)
    t2 = time.perf_counter()
    data = _encode(resized, rendition.fmt)
    t3 = time.perf_counter()
    if split is not None:
        split.decode_s += t1 - t0
        split.resize_s += t2 - t1
        split.encode_s += t3 - t2
    return data


def render_many(source: bytes, renditions: Sequence[Rendition]) -> list[bytes]:
    """Decode once (drafted for the largest output), render every rendition from the same pixels."""
    with Image.open(io.BytesIO(source)) as probe:
        sizes = [expected_size(probe.size, r) for r in renditions]
    largest = max(sizes, key=lambda s: s[0] * s[1])
    image = _decode(source, largest)
    return [_encode(_resize(image, size, True), r.fmt) for r, size in zip(renditions, sizes, strict=True)]


def tuned_engine() -> Engine:
    return Engine(
        "pillow-tuned",
        render_one,
        "benchmarks prototype: Pillow with draft() + reducing_gap=3, one decode per rendition",
    )


def naive_engine() -> Engine:
    return Engine(
        "pillow-naive",
        lambda s, r: render_one(s, r, tuned=False),
        "benchmarks prototype: Pillow full decode + plain LANCZOS resize",
    )


def profile(
    source: bytes, renditions: Sequence[Rendition], tuned: bool, repeats: int = 3
) -> dict[str, float]:
    """Median-free, simple split: total decode/resize/encode ms per job over `repeats` runs, averaged."""
    split = Split()
    for _ in range(repeats):
        for rendition in renditions:
            render_one(source, rendition, tuned=tuned, split=split)
    return {
        "decode_ms": round(split.decode_s * 1000 / repeats, 2),
        "resize_ms": round(split.resize_s * 1000 / repeats, 2),
        "encode_ms": round(split.encode_s * 1000 / repeats, 2),
    }
