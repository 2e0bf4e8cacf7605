"""Quality check of every rendition against a high-quality reference resize of the decoded source.

The reference is a float (mode "F", per channel) Lanczos resize in Pillow, so it carries no 8-bit
rounding or encoder loss; PSNR (RGB) and SSIM (luma, 7x7 uniform window, scikit-image's defaults)
of each output against it show whether an engine bought speed with visible loss.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from benchmarks.jobs import Rendition, expected_size

PIL_FORMAT = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}


@dataclass(frozen=True)
class QualityReport:
    format_ok: bool
    size: tuple[int, int]
    size_ok: bool
    mode: str
    psnr_db: float
    ssim: float
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@lru_cache(maxsize=4)
def _decoded_source(source: bytes) -> Image.Image:
    with Image.open(io.BytesIO(source)) as image:
        return image.convert("RGB")


@lru_cache(maxsize=64)
def reference(source: bytes, size: tuple[int, int]) -> np.ndarray:
    """Float Lanczos resize of the decoded source, channel by channel, as an HxWx3 float64 array."""
    channels = [
        np.asarray(band.convert("F").resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
        for band in _decoded_source(source).split()
    ]
    return np.clip(np.stack(channels, axis=-1), 0, 255)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _box_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean over every full window x window patch, via an integral image."""
    integral = np.pad(x, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    total = (
        integral[window:, window:]
        - integral[:-window, window:]
        - integral[window:, :-window]
        + integral[:-window, :-window]
    )
    return total / (window * window)


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """Mean SSIM of two luma planes (0..255), uniform window, as scikit-image computes by default."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    n = window * window
    correction = n / (n - 1)  # sample covariance, like scikit-image
    mu_a, mu_b = _box_mean(a, window), _box_mean(b, window)
    var_a = (_box_mean(a * a, window) - mu_a**2) * correction
    var_b = (_box_mean(b * b, window) - mu_b**2) * correction
    cov = (_box_mean(a * b, window) - mu_a * mu_b) * correction
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def check(source: bytes, rendition: Rendition, output: bytes) -> QualityReport:
    """Decode an output and compare it with the reference; problems are listed, never raised."""
    problems: list[str] = []
    if not output:
        raise ValueError(f"{rendition.label}: the engine returned no bytes")
    with Image.open(io.BytesIO(output)) as image:
        fmt_ok = image.format == PIL_FORMAT[rendition.fmt]
        if not fmt_ok:
            problems.append(f"format {image.format}, expected {PIL_FORMAT[rendition.fmt]}")
        mode = image.mode
        decoded = np.asarray(image.convert("RGB"), dtype=np.float64)
        size = image.size
    want = expected_size(_decoded_source(source).size, rendition)
    size_ok = abs(size[0] - want[0]) <= 1 and abs(size[1] - want[1]) <= 1
    if not size_ok:
        problems.append(f"size {size[0]}x{size[1]}, expected {want[0]}x{want[1]}")
    expected_modes = {"P", "L", "RGB"} if rendition.fmt == "gif" else {"RGB"}
    if mode not in expected_modes:
        problems.append(f"mode {mode}, expected one of {sorted(expected_modes)}")
    ref = reference(source, size)
    return QualityReport(
        fmt_ok,
        size,
        size_ok,
        mode,
        round(psnr(decoded, ref), 2),
        round(ssim(_luma(decoded), _luma(ref)), 4),
        tuple(problems),
    )
