"""Deterministic photo-like test images: smooth gradients, soft blobs, hard edges and sensor noise.

A flat or purely synthetic image flatters some encoders and resamplers; this mix exercises the
low-frequency (gradients), high-frequency (noise) and edge (ringing) behaviour of a real photo.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

DEFAULT_SEED = 20240601


def photo_like(width: int, height: int, seed: int = DEFAULT_SEED) -> Image.Image:
    """An RGB image that behaves like a photo for resamplers and encoders."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = xs / width, ys / height
    base = np.empty((height, width, 3), dtype=np.float32)
    base[..., 0] = 150 + 80 * np.sin(2.1 * u + 0.7) * np.cos(1.3 * v)
    base[..., 1] = 120 + 70 * np.cos(1.7 * u - 2.4 * v)
    base[..., 2] = 110 + 90 * np.sin(3.1 * v + 0.3 * u)
    # Soft blobs: a coarse random field upsampled smoothly ("out of focus" background).
    for channel in range(3):
        coarse = Image.fromarray(rng.uniform(-45, 45, size=(9, 12)).astype(np.float32), mode="F")
        base[..., channel] += np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC))
    del xs, ys, u, v
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), mode="RGB")
    del base
    # Hard edges: opaque shapes and thin lines (architecture, text-like detail).
    draw = ImageDraw.Draw(image)
    scale = max(width, height)
    for _ in range(40):
        left, top = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(scale // 40, scale // 6))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.ellipse((left, top, left + size, top + size), fill=colour)
        else:
            draw.rectangle((left, top, left + size, top + size // 2), fill=colour)
    for _ in range(60):
        x0, y0, x1, y1 = (int(c) for c in rng.integers(0, scale, size=4))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 4)))
    # Sensor noise, added in place in row bands to keep peak memory low for 12 MP images.
    pixels = np.array(image, dtype=np.int16)
    band = 256
    for top in range(0, height, band):
        rows = pixels[top : top + band]
        rows += rng.normal(0, 6, size=rows.shape).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def source_png_900(seed: int = DEFAULT_SEED) -> bytes:
    """Jobs A, B, D: the 900x900 PNG photo."""
    return encode(photo_like(900, 900, seed), "PNG", compress_level=6)


def source_jpeg_4000(seed: int = DEFAULT_SEED) -> bytes:
    """Job C: the 4000x3000 JPEG at quality 90 (a typical camera upload)."""
    return encode(photo_like(4000, 3000, seed), "JPEG", quality=90)


SOURCES = {
    "png900": source_png_900,
    "jpeg4000": source_jpeg_4000,
}
