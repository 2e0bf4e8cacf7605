"""Engine names -> factories; the one place the runner and the memory child look engines up."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks import engines, imgpipe_engine, pillow_prototype
from benchmarks.engines import Engine

FACTORIES: dict[str, Callable[[], Engine]] = {
    "imgpipe": imgpipe_engine.per_rendition_engine,
    "imgpipe-batch": imgpipe_engine.batch_engine,
    "imagemagick": engines.imagemagick_engine,
    "libvips": engines.pyvips_engine,
    "pillow-tuned": pillow_prototype.tuned_engine,
}

# The comparison of issue 6; the others are informational rows.
PRIMARY = ("imgpipe", "imagemagick", "libvips")


def build(name: str) -> Engine:
    return FACTORIES[name]()
