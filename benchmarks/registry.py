"""Engine names -> factories; the one place the runner and the memory child look engines up."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks import engines, imgpipe_engine, pillow_prototype
from benchmarks.engines import Engine

FACTORIES: dict[str, Callable[[], Engine]] = {
    "imgpipe": imgpipe_engine.per_rendition_engine,
    "imgpipe-batch": imgpipe_engine.batch_engine,
    "imagemagick": engines.imagemagick_engine,
    "imagemagick-once": engines.imagemagick_once_engine,
    "libvips": engines.pyvips_engine,
    "libvips-once": engines.pyvips_once_engine,
    "pillow-tuned": pillow_prototype.tuned_engine,
}

# The comparison of issue 6; the others are informational rows.
PRIMARY = ("imgpipe", "imagemagick", "libvips")
# The comparison of issue 12 (decode once, write every rendition), timed on job E.
ONCE = ("imgpipe-batch", "imagemagick-once", "libvips-once")
# Whose memory benchmarks/memory.py does not measure: pillow-tuned is a prototype; the -once
# engines would be measured as the Python process, not their `convert` child.
NOT_MEMORY_MEASURED = ("pillow-tuned", "imagemagick-once", "libvips-once")


def build(name: str) -> Engine:
    return FACTORIES[name]()
