"""The engines under test behind one interface: source bytes + renditions -> encoded outputs.

The primary engines render each rendition independently from the source bytes, because that is the
unit of work of one `image_convert_resize` invocation in the dynamic fork (one Lambda per
rendition). The `-once` engines decode once and write every rendition, the unit of work of one
`image_render_renditions` invocation (the default deployment): libvips from one decoded image in
memory, ImageMagick from one `convert` process.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import settings
from benchmarks.jobs import Rendition

Render = Callable[[bytes, Rendition], bytes]


@dataclass
class Engine:
    name: str
    render_one: Render
    description: str
    render_many: Callable[[bytes, Sequence[Rendition]], list[bytes]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def render(self, source: bytes, renditions: Sequence[Rendition]) -> list[bytes]:
        if self.render_many is not None:
            return self.render_many(source, renditions)
        return [self.render_one(source, rendition) for rendition in renditions]


RenderMany = Callable[[bytes, Sequence[Rendition]], list[bytes]]


def decode_once_engine(name: str, render_many: RenderMany, description: str, **meta: Any) -> Engine:
    """An engine whose unit of work is the whole job (one decode, every rendition)."""

    def render_one(source: bytes, rendition: Rendition) -> bytes:
        return render_many(source, [rendition])[0]

    return Engine(name, render_one, description, render_many=render_many, meta=meta)


class EngineUnavailableError(RuntimeError):
    """The engine cannot run here; the reason is reported instead of a number."""


# --- ImageMagick -----------------------------------------------------------------------------


def imagemagick_binary() -> str:
    for candidate in settings.IMAGEMAGICK_CANDIDATES:
        if candidate.exists():
            probe = subprocess.run([str(candidate), "-version"], capture_output=True, text=True, check=False)
            if probe.returncode == 0 and "ImageMagick" in probe.stdout:
                return str(candidate)
    raise EngineUnavailableError(
        "ImageMagick not installed from Debian's package (apt-get install -y imagemagick)"
    )


IM_FORMAT = {"jpg": "jpeg", "png": "png", "webp": "webp", "gif": "gif", "avif": "avif"}


def imagemagick_args(rendition: Rendition) -> list[str]:
    """The seeds' command (`convert in -resize WxH out`) plus the shared encoder settings."""
    args = ["-resize", f"{rendition.width}x{rendition.height}", "-strip"]
    match rendition.fmt:
        case "jpg":
            args += ["-quality", str(settings.JPEG_QUALITY), "-sampling-factor", "4:2:0"]
            if settings.JPEG_PROGRESSIVE:
                args += ["-interlace", "Plane"]
            args += ["-define", "jpeg:optimize-coding=true"]
        case "webp":
            args += ["-quality", str(settings.WEBP_QUALITY), "-define", f"webp:method={settings.WEBP_EFFORT}"]
        case "avif":
            args += ["-quality", str(settings.AVIF_QUALITY), "-define", f"heic:speed={settings.AVIF_SPEED}"]
        case "png":
            args += ["-define", f"png:compression-level={settings.PNG_COMPRESSION}"]
            if settings.PNG_ADAPTIVE_FILTER:
                args += ["-define", "png:compression-filter=5"]
        case "gif":
            args += ["-colors", str(settings.GIF_COLOURS)]
    return args


def imagemagick_engine() -> Engine:
    binary = imagemagick_binary()
    version = subprocess.run([binary, "-version"], capture_output=True, text=True, check=True).stdout.split(
        "\n"
    )[0]

    def render_one(source: bytes, rendition: Rendition) -> bytes:
        command = [binary, "-", *imagemagick_args(rendition), f"{IM_FORMAT[rendition.fmt]}:-"]
        done = subprocess.run(command, input=source, capture_output=True, check=False)
        if done.returncode != 0 or not done.stdout:
            raise RuntimeError(f"{binary} failed for {rendition.label}: {done.stderr[:300]!r}")
        return done.stdout

    return Engine(
        "imagemagick",
        render_one,
        f"{binary} CLI, one process per rendition ({version})",
        meta={"binary": binary, "version": version},
    )


def imagemagick_once_engine() -> Engine:
    """Every rendition from one `convert` process: the source is read and decoded once, each
    rendition is a `( +clone <resize, encoder settings> -write <file> +delete )` group, with
    `-respect-parentheses` so one group's settings never leak into the next."""
    binary = imagemagick_binary()

    def render_many(source: bytes, renditions: Sequence[Rendition]) -> list[bytes]:
        with tempfile.TemporaryDirectory(prefix="imgpipe-im-") as workdir:
            paths = [Path(workdir) / f"{index}.{r.fmt}" for index, r in enumerate(renditions)]
            command = [binary, "-respect-parentheses", "-"]
            for rendition, path in zip(renditions, paths, strict=True):
                writes = f"{IM_FORMAT[rendition.fmt]}:{path}"
                command += ["(", "+clone", *imagemagick_args(rendition), "-write", writes, "+delete", ")"]
            command.append("null:")
            done = subprocess.run(command, input=source, capture_output=True, check=False)
            if done.returncode != 0 or not all(path.is_file() for path in paths):
                raise RuntimeError(f"{binary} failed: {done.stderr[:300]!r}")
            return [path.read_bytes() for path in paths]

    return decode_once_engine(
        "imagemagick-once", render_many, f"{binary} CLI, one process writing every rendition", binary=binary
    )


# --- libvips ---------------------------------------------------------------------------------


def vips_save_options(fmt: str) -> tuple[str, dict[str, Any]]:
    match fmt:
        case "jpg":
            return ".jpg", {
                "Q": settings.JPEG_QUALITY,
                "subsample_mode": "on",
                "interlace": settings.JPEG_PROGRESSIVE,
                "optimize_coding": True,
            }
        case "webp":
            return ".webp", {"Q": settings.WEBP_QUALITY, "effort": settings.WEBP_EFFORT}
        case "avif":
            return ".avif", {"Q": settings.AVIF_QUALITY, "effort": 9 - settings.AVIF_SPEED}
        case "png":
            filters = "all" if settings.PNG_ADAPTIVE_FILTER else "none"
            return ".png", {"compression": settings.PNG_COMPRESSION, "filter": filters}
        case "gif":
            return ".gif", {}
    raise ValueError(f"format {fmt!r} not benchmarked")


def pyvips_engine() -> Engine:
    try:
        import pyvips
    except (ImportError, OSError) as error:
        raise EngineUnavailableError(f"pyvips not importable: {error}") from error
    # Every round must do the work: libvips' operation cache would otherwise return earlier results.
    pyvips.cache_set_max(0)

    def render_one(source: bytes, rendition: Rendition) -> bytes:
        # thumbnail_buffer is libvips' fast path: shrink-on-load for JPEG/WebP, then lanczos3.
        image = pyvips.Image.thumbnail_buffer(source, rendition.width, height=rendition.height)
        suffix, options = vips_save_options(rendition.fmt)
        return bytes(image.write_to_buffer(suffix, keep="none", **options))

    version = ".".join(str(pyvips.version(i)) for i in range(3))
    return Engine(
        "libvips",
        render_one,
        f"pyvips {pyvips.__version__} thumbnail_buffer, libvips {version}",
        meta={"libvips": version, "pyvips": pyvips.__version__, "concurrency": pyvips.concurrency_get()},
    )


def pyvips_once_engine() -> Engine:
    """Decode once into memory (`copy_memory`, so libvips' lazy pipelines do not decode again per
    rendition), then `thumbnail_image` and save per rendition, with `vips_save_options`."""
    try:
        import pyvips
    except (ImportError, OSError) as error:
        raise EngineUnavailableError(f"pyvips not importable: {error}") from error
    pyvips.cache_set_max(0)

    def render_many(source: bytes, renditions: Sequence[Rendition]) -> list[bytes]:
        decoded = pyvips.Image.new_from_buffer(source, "", access="random").autorot().copy_memory()
        outputs = []
        for rendition in renditions:
            image = decoded.thumbnail_image(rendition.width, height=rendition.height)
            suffix, options = vips_save_options(rendition.fmt)
            outputs.append(bytes(image.write_to_buffer(suffix, keep="none", **options)))
        return outputs

    return decode_once_engine(
        "libvips-once", render_many, "pyvips: one decode (copy_memory), thumbnail_image + save per rendition"
    )
