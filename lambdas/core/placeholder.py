"""What a page shows before a rendition arrives: a BlurHash and the dominant colour of a source.

BlurHash (https://blurha.sh) is computed by the `blurhash` package (pure Python, no dependencies),
on a copy at most `HASH_SIDE` pixels across: the hash only holds `components` cosine terms, so more
pixels would cost time and change nothing a viewer sees. Transparent pixels are composited over
white first (BlurHash has no alpha). The dominant colour is the most frequent colour of a median-cut
palette of `PALETTE_SIZE` colours, over the pixels that are at least half opaque. Both come from the
decoded, oriented sRGB frame, so they are deterministic for a given decode.
"""

from __future__ import annotations

from dataclasses import dataclass

import blurhash
from PIL import Image

HASH_SIDE = 32
PALETTE_SIDE = 64
PALETTE_SIZE = 5
PLACEHOLDER_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Placeholder:
    blurhash: str
    dominant_colour: str  # "#rrggbb"
    components: tuple[int, int]  # BlurHash's x and y component counts

    def as_json(self) -> dict[str, object]:
        return {"blurhash": self.blurhash, "dominantColor": self.dominant_colour}


def components_for(size: tuple[int, int]) -> tuple[int, int]:
    """4 x 3 BlurHash components, the 4 along the longer side; 4 x 4 when nearly square."""
    width, height = size
    shorter = 4 if min(width, height) >= 0.875 * max(width, height) else 3
    return (4, shorter) if width >= height else (shorter, 4)


def _small(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX).convert("RGBA")


def placeholder(image: Image.Image) -> Placeholder:
    """BlurHash and dominant colour of `image` (L, LA, RGB or RGBA; not modified); the full-size
    frame is read once, into the palette's copy, which the hash's copy is made from."""
    palette_copy = _small(image, PALETTE_SIDE)
    small = _small(palette_copy, HASH_SIDE)
    opaque = Image.new("RGB", small.size, PLACEHOLDER_WHITE)
    opaque.paste(small.convert("RGB"), (0, 0), small.getchannel("A"))
    data = opaque.tobytes()
    rows = [
        [list(data[(y * opaque.width + x) * 3 : (y * opaque.width + x) * 3 + 3]) for x in range(opaque.width)]
        for y in range(opaque.height)
    ]
    components = components_for(image.size)
    return Placeholder(blurhash.encode(rows, *components), dominant_colour(palette_copy), components)


def dominant_colour(image: Image.Image) -> str:
    """The most frequent colour of a PALETTE_SIZE median-cut palette, over half-opaque pixels."""
    small = _small(image, PALETTE_SIDE) if max(image.size) > PALETTE_SIDE else image.convert("RGBA")
    alpha = small.getchannel("A").tobytes()
    paletted = small.convert("RGB").quantize(PALETTE_SIZE, method=Image.Quantize.MEDIANCUT)
    palette = paletted.getpalette() or []
    counts = [0] * 256
    for index, opacity in zip(paletted.tobytes(), alpha, strict=True):
        if opacity >= 128:
            counts[index] += 1
    if not any(counts):  # fully transparent: nothing is dominant, say white as the composite does
        return "#{:02x}{:02x}{:02x}".format(*PLACEHOLDER_WHITE)
    best = max(range(256), key=lambda index: (counts[index], -index))
    red, green, blue = palette[best * 3 : best * 3 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"


def preview(blurhash_text: str, size: tuple[int, int]) -> Image.Image:
    """The placeholder as a browser would paint it (BlurHash decoded at `size`, RGB)."""
    width, height = size
    rows = blurhash.decode(blurhash_text, width, height)
    flat = bytes(max(0, min(255, round(value))) for row in rows for pixel in row for value in pixel[:3])
    return Image.frombytes("RGB", (width, height), flat)
