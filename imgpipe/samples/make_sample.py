"""Regenerate sample.png: a photo-like 900x900 landscape drawn procedurally (no third-party pixels).

Run: python -m imgpipe.samples.make_sample. Deterministic: the same Pillow gives the same bytes.
The image is CC0 (see README.md).
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

SIZE = 900
SEED = 3
SAMPLE = Path(__file__).with_name("sample.png")


def _vertical_gradient(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    column = Image.new("RGB", (1, SIZE))
    for y in range(SIZE):
        t = y / (SIZE - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return column.resize((SIZE, SIZE))


def _ridge(rng: random.Random, base: int, roughness: int) -> list[tuple[int, int]]:
    points = [(0, SIZE)]
    height = base
    for x in range(0, SIZE + 30, 30):
        height = max(120, min(SIZE - 80, height + rng.randint(-roughness, roughness)))
        points.append((x, height))
    points.append((SIZE, SIZE))
    return points


def make_sample() -> Image.Image:
    rng = random.Random(SEED)  # noqa: S311 - a reproducible drawing, not a secret
    image = _vertical_gradient((38, 92, 168), (250, 196, 140))  # dusk sky
    draw = ImageDraw.Draw(image)
    draw.ellipse((590, 170, 730, 310), fill=(255, 236, 180))  # sun
    for colour, base, roughness in (
        ((92, 104, 140), 430, 45),
        ((60, 96, 84), 560, 35),
        ((34, 70, 46), 690, 25),
    ):
        draw.polygon(_ridge(rng, base, roughness), fill=colour)
    for _ in range(40):  # trees on the nearest hill
        x, y = rng.randint(0, SIZE), rng.randint(700, 860)
        h = rng.randint(40, 90)
        draw.polygon([(x, y - h), (x - h // 4, y), (x + h // 4, y)], fill=(20, 48, 30))
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    # Film-grain-like texture, so encoders see photo-like content rather than flat colour.
    grain = Image.effect_noise((SIZE, SIZE), 18).filter(ImageFilter.GaussianBlur(0.8))
    return ImageChops.overlay(image, Image.merge("RGB", (grain, grain, grain)))


if __name__ == "__main__":
    make_sample().save(SAMPLE, format="PNG", optimize=True)
    print(f"wrote {SAMPLE}")
