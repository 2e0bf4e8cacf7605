"""The normalised rendition request (`Recipe`) and the output formats it can name: plain values.

The `Recipe` is what the renderer obeys and what the output key digests: defaults are filled in and
spellings canonicalised, so two inputs that mean the same rendition get the same key. This module
imports neither pydantic nor Powertools, so the imaging core (and the benchmark's core-only
process) does not pay for the validation and observability frameworks; validating task input into
a Recipe is `lambdas.core.inputs`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Literal

from lambdas.core.errors import InvalidRecipeError

# Bump when rendering changes output bytes, so new renditions get new keys instead of overwriting.
RENDERER_VERSION = "2"  # 2: PNG written with zlib Z_RLE

Fit = Literal["contain", "cover", "fill", "stretch"]


@dataclass(frozen=True)
class FocalPoint:
    """Where a `cover` crop keeps its centre, as fractions of the source's width and height (0..1,
    from the top left): the crop is centred there as far as the source's edges allow."""

    x: float
    y: float


Gravity = Literal["centre", "smart"] | FocalPoint
GRAVITY_NAMES: dict[str, Literal["centre", "smart"]] = {
    "centre": "centre",
    "center": "centre",
    "smart": "smart",
}


@dataclass(frozen=True)
class OutputFormat:
    """How one output format is encoded and served."""

    name: str  # canonical name, used in recipes and keys
    pil_format: str
    extension: str
    content_type: str
    supports_alpha: bool
    supports_animation: bool
    default_quality: int | None  # None: lossless format, quality is ignored


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("jpeg", "JPEG", "jpg", "image/jpeg", False, False, 85),
        OutputFormat("png", "PNG", "png", "image/png", True, False, None),
        OutputFormat("webp", "WEBP", "webp", "image/webp", True, True, 80),
        OutputFormat("gif", "GIF", "gif", "image/gif", True, True, None),
        OutputFormat("avif", "AVIF", "avif", "image/avif", True, False, 60),
    )
}
FORMAT_ALIASES = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp", "gif": "gif", "avif": "avif"}


def canonical_format(value: object, field: str = "outputFormat") -> OutputFormat:
    """Map a user spelling ('JPG', 'jpeg', 'webp') to its OutputFormat, or raise naming the field."""
    if not isinstance(value, str) or value.strip().lower() not in FORMAT_ALIASES:
        known = ", ".join(sorted(FORMAT_ALIASES))
        raise InvalidRecipeError(field, f"unknown output format {value!r}; expected one of {known}")
    return OUTPUT_FORMATS[FORMAT_ALIASES[value.strip().lower()]]


@dataclass(frozen=True)
class Recipe:
    """A validated, normalised rendition request: what the renderer obeys and the key digests."""

    format: str
    width: int
    height: int
    fit: Fit
    upscale: bool = False
    quality: int | None = None
    background: str | None = None
    strip_metadata: bool = True
    gravity: Gravity = "centre"  # which part a `cover` crop keeps; only `cover` crops

    @property
    def output(self) -> OutputFormat:
        return OUTPUT_FORMATS[self.format]

    def canonical_json(self) -> str:
        fields = asdict(self)
        if self.gravity == "centre":
            # The default is left out, so renditions written before gravity existed keep their keys.
            del fields["gravity"]
        return json.dumps({"v": RENDERER_VERSION, **fields}, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def parse_gravity(value: object, field: str = "gravity") -> Gravity:
    """A user's `gravity` ("centre"/"center", "smart", or {"x": 0..1, "y": 0..1}) -> its canonical
    value, or InvalidRecipeError naming the field (`gravity`, `gravity.x`, ...)."""
    if value is None:
        return "centre"
    if isinstance(value, FocalPoint):
        value = asdict(value)
    expected = "expected 'centre', 'smart' or a focal point {\"x\": 0..1, \"y\": 0..1}"
    if isinstance(value, str):
        canonical = GRAVITY_NAMES.get(value.strip().lower())
        if canonical is None:
            raise InvalidRecipeError(field, f"unknown gravity {value!r}; {expected}")
        return canonical
    if not isinstance(value, dict):
        raise InvalidRecipeError(field, f"{expected}, got {type(value).__name__}")
    unknown = sorted(str(key) for key in value if key not in ("x", "y"))
    if unknown:
        raise InvalidRecipeError(f"{field}.{unknown[0]}", "unknown field (a focal point has x and y)")
    coordinates = []
    for axis in ("x", "y"):
        if axis not in value:
            raise InvalidRecipeError(f"{field}.{axis}", "field required")
        number = value[axis]
        # bool is an int in Python; a focal point of `true` is a mistake, not 1.0
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise InvalidRecipeError(f"{field}.{axis}", f"expected a number from 0 to 1, got {number!r}")
        if not 0 <= number <= 1:
            raise InvalidRecipeError(
                f"{field}.{axis}", f"{number} is outside 0..1 (a fraction of the source)"
            )
        coordinates.append(float(number))
    return FocalPoint(*coordinates)


def normalised_recipe(
    output_format: object,
    width: int,
    height: int,
    *,
    fit: Fit,
    upscale: bool = False,
    quality: int | None = None,
    background: str | None = None,
    strip_metadata: bool = True,
    gravity: object = None,
    format_field: str = "outputFormat",
) -> Recipe:
    """Canonical format name, and the format's default quality (none for lossless formats): the one
    place a Recipe's defaults are filled, for task input (`inputs.make_recipe`) and direct callers.
    `gravity` is a user's value (`parse_gravity`); anything but centre needs `fit` "cover"."""
    fmt = canonical_format(output_format, format_field)
    resolved_gravity = parse_gravity(gravity)
    if resolved_gravity != "centre" and fit != "cover":
        raise InvalidRecipeError(
            "gravity", f"only a 'cover' crop has a gravity; fit is {fit!r} (set fit to 'cover')"
        )
    resolved_quality = None
    if fmt.default_quality is not None:
        resolved_quality = quality if quality is not None else fmt.default_quality
    return Recipe(
        format=fmt.name,
        width=width,
        height=height,
        fit=fit,
        upscale=upscale,
        quality=resolved_quality,
        background=background,
        strip_metadata=strip_metadata,
        gravity=resolved_gravity,
    )
