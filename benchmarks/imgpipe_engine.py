"""imgpipe's imaging core (`lambdas.core.imaging`) behind the benchmark's engine interface.

The recipe is the one `image_convert_resize` builds for the seeds' fields (its `make_recipe` fills
defaults through the same `normalised_recipe`), built here without pydantic, so the process holds
the imaging core alone, like the libvips one; `quality` comes from benchmarks.settings so all
engines encode at the same settings.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from benchmarks import settings
from benchmarks.engines import Engine, EngineUnavailableError, decode_once_engine
from benchmarks.jobs import Rendition

QUALITY = {"jpg": settings.JPEG_QUALITY, "webp": settings.WEBP_QUALITY, "avif": settings.AVIF_QUALITY}


def _core() -> tuple[Any, Any]:
    try:
        from lambdas.core import imaging, recipe
    except ImportError as error:
        raise EngineUnavailableError(f"imgpipe core not importable yet: {error}") from error
    return imaging, recipe


def upscales(source: bytes, rendition: Rendition) -> bool:
    """The other engines enlarge to the box (ImageMagick's -resize, libvips' thumbnail); so does
    imgpipe, but only when the box is larger, so downscales keep JPEG draft decoding."""
    width, height = _source_size(source)
    return rendition.width > width or rendition.height > height


@lru_cache(maxsize=8)
def _source_size(source: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(source)) as image:
        return image.size


def _recipe(recipe_module: Any, source: bytes, rendition: Rendition) -> Any:
    """maintainAspectRatio=true, stripMetadata=true: the seeds' request, as a plain Recipe."""
    return recipe_module.normalised_recipe(
        rendition.fmt,
        rendition.width,
        rendition.height,
        fit="contain",
        upscale=upscales(source, rendition),
        quality=QUALITY.get(rendition.fmt),
        strip_metadata=True,
    )


def resize_event(source: bytes, rendition: Rendition, location: str) -> dict[str, Any]:
    """The image_convert_resize task input that asks for the same rendition as `_recipe`."""
    event: dict[str, Any] = {
        "fileLocation": location,
        "outputFormat": rendition.fmt,
        "outputWidth": rendition.width,
        "outputHeight": rendition.height,
        "maintainAspectRatio": True,
        "upscale": upscales(source, rendition),
        "stripMetadata": True,
    }
    if rendition.fmt in QUALITY:
        event["quality"] = QUALITY[rendition.fmt]
    return event


def per_rendition_engine() -> Engine:
    """One `render_bytes` per rendition: what each image_convert_resize Lambda does in the fork."""
    imaging, recipe_module = _core()

    def render_one(source: bytes, rendition: Rendition) -> bytes:
        return bytes(imaging.render_bytes(source, _recipe(recipe_module, source, rendition)).data)

    return Engine("imgpipe", render_one, "lambdas.core.imaging.render_bytes, one decode per rendition")


def batch_engine() -> Engine:
    """Decode once, render many (`load_source` + `render_each`): what one `image_render_renditions`
    invocation does, the default deployment's unit of work."""
    imaging, recipe_module = _core()

    def render_many(source: bytes, renditions: Sequence[Rendition]) -> list[bytes]:
        recipes = [_recipe(recipe_module, source, r) for r in renditions]
        boxes = [] if any(r.upscale for r in recipes) else [(r.width, r.height) for r in recipes]
        decoded = imaging.load_source(source, target_boxes=boxes)
        rendered = dict(imaging.render_each(decoded, recipes))
        return [bytes(rendered[index].data) for index in range(len(recipes))]

    return decode_once_engine(
        "imgpipe-batch",
        render_many,
        "lambdas.core.imaging.load_source once + render_each (image_render_renditions)",
    )
