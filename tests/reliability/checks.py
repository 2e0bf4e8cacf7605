"""Shared assertions of the reliability suite: peak memory, and what a correct rendition is.

Kept apart from the tests so the worker-level and the workflow-level suites judge a corpus item
by exactly the same rules.
"""

from __future__ import annotations

import io
import re
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from tests.reliability.corpus import (
    CorpusItem,
    Refused,
    Rendered,
    expected_contain_size,
    quadrant_centres,
    rgba_at,
)

MEMORY_BOUND_BYTES = 512 * 1024 * 1024
PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}
_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class PeakMemory:
    """Peak resident memory growth over a block, in bytes (Pillow allocates outside tracemalloc)."""

    baseline: int = 0
    peak: int = 0
    exact: bool = True

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.baseline)


def _status_kib(field: str, status: Path = _PROC_STATUS) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", status.read_text(), re.MULTILINE)
    if not match:
        raise LookupError(field)
    return int(match.group(1))


def process_peak_bytes(pid: int) -> int | None:
    """Peak resident memory of another process (Linux VmHWM), None where /proc does not tell."""
    try:
        return _status_kib("VmHWM", Path(f"/proc/{pid}/status")) * 1024
    except (OSError, LookupError):
        return None


@contextmanager
def peak_memory() -> Iterator[PeakMemory]:
    """Measure peak RSS growth: Linux resets the high-water mark on `echo 5 > clear_refs`.

    Elsewhere the process-lifetime ru_maxrss is used, which over-estimates (never under-estimates).
    """
    measure = PeakMemory()
    try:
        _CLEAR_REFS.write_text("5")
        measure.baseline = _status_kib("VmRSS") * 1024
    except OSError:
        measure.exact = False
    yield measure
    if measure.exact:
        measure.peak = _status_kib("VmHWM") * 1024
    else:
        measure.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def expected_size(item: CorpusItem) -> tuple[int, int]:
    assert item.source_size is not None, f"{item.name}: a rendered item needs its source size"
    box = (int(str(item.recipe["outputWidth"])), int(str(item.recipe["outputHeight"])))
    return expected_contain_size(item.source_size, box, upscale=bool(item.recipe.get("upscale", False)))


def assert_rendition(item: CorpusItem, expectation: Rendered, data: bytes, reported: dict[str, Any]) -> None:
    """Decode the published bytes and check format, size, mode, alpha and orientation."""
    image = decode(data)
    fmt = str(item.recipe["outputFormat"])
    assert image.format == PIL_FORMAT[fmt], f"{item.name}: {image.format} instead of {fmt}"
    assert image.size == expected_size(item), f"{item.name}: size {image.size}"
    assert (reported["outputWidth"], reported["outputHeight"]) == image.size
    assert reported["bytes"] == len(data)
    assert image.mode in expectation.modes, f"{item.name}: mode {image.mode}"
    orientation = image.getexif().get(0x0112, 1)
    assert orientation == 1, f"{item.name}: EXIF orientation {orientation} survived (double rotation)"
    if expectation.must_keep_alpha:
        width, height = image.size
        assert rgba_at(image, (1, height // 2))[3] == 0, "the transparent half lost its transparency"
        assert rgba_at(image, (width - 2, height // 2))[3] == 255
    if expectation.quadrants is not None:
        for centre, colour in zip(quadrant_centres(image.size), expectation.quadrants, strict=True):
            actual = rgba_at(image, centre)[:3]
            assert all(abs(a - b) <= 40 for a, b in zip(actual, colour, strict=True)), (
                f"{item.name}: quadrant at {centre} is {actual}, expected about {colour}"
            )


def expectations(item: CorpusItem) -> tuple[Rendered | None, Refused | None]:
    """Split an item's expectation into (rendition allowed?, refusal allowed?)."""
    if isinstance(item.expect, tuple):
        return item.expect
    if isinstance(item.expect, Rendered):
        return item.expect, None
    return None, item.expect
