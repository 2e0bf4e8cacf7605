"""Where the interesting part of an image is: what a `gravity: "smart"` cover crop keeps.

The method is libvips' attention crop (`vips_smartcrop` with `VIPS_INTERESTING_ATTENTION`: "edges,
skin tones and areas of saturated colour"), scored on a copy at most `ANALYSIS_SIDE` pixels across:
per pixel, edge energy (Pillow's FIND_EDGES on the luminance), closeness to a skin tone and colour
saturation, each only where the pixel is neither near-black nor near-white, weighted by its alpha
(transparent pixels are not interesting). A cover crop spans the whole source along one axis, so
the search is one-dimensional: the window of the crop's size with the largest score along the
other axis (prefix sums), ties going to the window nearest the centre. Pillow only, no numpy: the
layer stays small and the analysis costs a few milliseconds per source (benchmarks/analysis.md,
"Manifest and smart crop"). The map is computed once per decoded source and serves every size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageFilter

ANALYSIS_SIDE = 96  # the analysed copy's longer side: a window position is 1/96 of the source
EDGE_WEIGHT = 1.0
SKIN_WEIGHT = 1.8  # smartcrop.js' skinWeight: a face beats a busy background of the same area
SATURATION_WEIGHT = 0.3
SKIN_TONE = (0.78, 0.57, 0.44)  # smartcrop.js' skinColor, as a unit-free RGB direction
# smartcrop.js' thresholds: a pixel counts as skin when 1 - (distance of its RGB direction to
# SKIN_TONE's) exceeds 0.8 (grey is 0.77), as saturated above 0.4; scores rise from 0 there to 1.
SKIN_THRESHOLD = 0.8
SATURATION_THRESHOLD = 0.4
BRIGHTNESS_RANGE = (0.05, 0.9)  # skin and saturation count only between these luminances (0..1)

_SKIN_NORM = math.sqrt(sum(component * component for component in SKIN_TONE))
_SKIN_UNIT = tuple(component / _SKIN_NORM for component in SKIN_TONE)


@dataclass(frozen=True)
class SaliencyMap:
    """Scores of a `width` x `height` grid laid over the whole source, row by row."""

    width: int
    height: int
    scores: tuple[float, ...]

    def focus(self, source: tuple[int, int], crop: tuple[float, float]) -> tuple[float, float]:
        """The centre (fractions of the source) of the `crop`-sized window with the largest score."""
        src_w, src_h = source
        crop_w, crop_h = crop
        if crop_w < src_w:
            totals = [
                sum(self.scores[y * self.width + x] for y in range(self.height)) for x in range(self.width)
            ]
            return _best_centre(totals, crop_w / src_w), 0.5
        if crop_h < src_h:
            totals = [sum(self.scores[y * self.width : (y + 1) * self.width]) for y in range(self.height)]
            return 0.5, _best_centre(totals, crop_h / src_h)
        return 0.5, 0.5


def _best_centre(totals: list[float], window_fraction: float) -> float:
    """The centre (fraction) of the best window covering `window_fraction` of `totals`' cells."""
    cells = len(totals)
    window = min(cells, max(1, round(window_fraction * cells)))
    prefix = [0.0]
    for total in totals:
        prefix.append(prefix[-1] + total)
    middle = (cells - window) / 2
    best = max(
        range(cells - window + 1),
        key=lambda start: (prefix[start + window] - prefix[start], -abs(start - middle)),
    )
    if prefix[-1] <= 0:  # nothing interesting anywhere (a flat image): the centre, as gravity centre
        return 0.5
    return (best + window / 2) / cells


def saliency_map(image: Image.Image) -> SaliencyMap:
    """Score `image` (L, LA, RGB or RGBA, any size; not modified) on a small copy."""
    scale = ANALYSIS_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.resize(size, Image.Resampling.BOX).convert("RGBA")  # BOX: every source pixel counts
    edges = small.convert("L").filter(ImageFilter.FIND_EDGES).tobytes()
    pixels = small.tobytes()  # RGBA, 4 bytes per pixel
    width, height = size
    scores = []
    for index, edge in enumerate(edges):
        red, green, blue, alpha = pixels[index * 4 : index * 4 + 4]
        brightness = (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255
        row, column = divmod(index, width)
        # Pillow's kernel filters copy the outermost pixels unfiltered: no edge is known there
        inner = 0 < column < width - 1 and 0 < row < height - 1
        score = EDGE_WEIGHT * edge / 255 if inner else 0.0
        if BRIGHTNESS_RANGE[0] <= brightness <= BRIGHTNESS_RANGE[1]:
            score += SKIN_WEIGHT * _skin(red, green, blue) + SATURATION_WEIGHT * _saturation(red, green, blue)
        scores.append(score * alpha / 255)
    return SaliencyMap(width, height, tuple(scores))


def _skin(red: int, green: int, blue: int) -> float:
    """1 at the skin tone's direction, 0 beyond SKIN_THRESHOLD (brightness does not count)."""
    norm = math.sqrt(red * red + green * green + blue * blue) or 1.0
    distance = math.sqrt(
        (red / norm - _SKIN_UNIT[0]) ** 2
        + (green / norm - _SKIN_UNIT[1]) ** 2
        + (blue / norm - _SKIN_UNIT[2]) ** 2
    )
    return max(0.0, (1 - distance - SKIN_THRESHOLD) / (1 - SKIN_THRESHOLD))


def _saturation(red: int, green: int, blue: int) -> float:
    """HSV saturation above SATURATION_THRESHOLD, rescaled to 0..1."""
    high = max(red, green, blue)
    saturation = (high - min(red, green, blue)) / high if high else 0.0
    return max(0.0, (saturation - SATURATION_THRESHOLD) / (1 - SATURATION_THRESHOLD))
