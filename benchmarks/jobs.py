"""The benchmark jobs of issue 6: which source, which renditions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rendition:
    """One output: format and the box it must fit inside (aspect ratio kept, upscaling allowed)."""

    fmt: str  # png, jpg, webp, gif, avif
    width: int
    height: int

    @property
    def label(self) -> str:
        return f"{self.fmt}@{self.width}x{self.height}"


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    source: str  # key of images.SOURCES
    renditions: tuple[Rendition, ...]


def _grid(formats: tuple[str, ...], sizes: tuple[int, ...]) -> tuple[Rendition, ...]:
    return tuple(Rendition(fmt, size, size) for fmt in formats for size in sizes)


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "A",
            "900x900 PNG -> png, jpg, webp at 300, 200, 1200 (9 renditions)",
            "png900",
            _grid(("png", "jpg", "webp"), (300, 200, 1200)),
        ),
        Job("B", "900x900 PNG -> 300x300 GIF (seed 000)", "png900", (Rendition("gif", 300, 300),)),
        Job(
            "C",
            "4000x3000 JPEG q90 -> JPEG at widths 300, 800, 1600",
            "jpeg4000",
            tuple(Rendition("jpg", w, w * 3 // 4) for w in (300, 800, 1600)),
        ),
        Job("D", "900x900 PNG -> AVIF at 300 and 1200", "png900", _grid(("avif",), (300, 1200))),
        Job(
            "E",
            "4000x3000 JPEG -> webp, jpg at 1200, 300 (the default deployment's 4 renditions, decode once)",
            "jpeg4000",
            _grid(("webp", "jpg"), (1200, 300)),
        ),
    )
}


def expected_size(source_size: tuple[int, int], rendition: Rendition) -> tuple[int, int]:
    """Fit inside the box keeping aspect ratio (the seeds' `maintainAspectRatio: true`)."""
    sw, sh = source_size
    scale = min(rendition.width / sw, rendition.height / sh)
    return max(1, round(sw * scale)), max(1, round(sh * scale))
