"""The three tasks' inputs (the seeds' field names) as pydantic models, and the normalised recipe.

The normalised `Recipe` is what the renderer obeys and what the output key digests: defaults are
filled in and spellings canonicalised, so two inputs that mean the same rendition get the same key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from lambdas.core.errors import InvalidRecipeError

# Bump when rendering changes output bytes, so new renditions get new keys instead of overwriting.
RENDERER_VERSION = "2"  # 2: PNG written with zlib Z_RLE
MAX_LOCATION_LENGTH = 1024

Fit = Literal["contain", "cover", "fill", "stretch"]


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

Dimension = Annotated[StrictInt, Field(gt=0)]


def canonical_format(value: object, field: str = "outputFormat") -> OutputFormat:
    """Map a user spelling ('JPG', 'jpeg', 'webp') to its OutputFormat, or raise naming the field."""
    if not isinstance(value, str) or value.strip().lower() not in FORMAT_ALIASES:
        known = ", ".join(sorted(FORMAT_ALIASES))
        raise InvalidRecipeError(field, f"unknown output format {value!r}; expected one of {known}")
    return OUTPUT_FORMATS[FORMAT_ALIASES[value.strip().lower()]]


class RecipeOptions(BaseModel):
    """Optional rendering fields shared by the resize task and the planner."""

    model_config = ConfigDict(extra="forbid")

    maintainAspectRatio: bool = True
    fit: Fit | None = None
    upscale: bool = False
    quality: Annotated[StrictInt, Field(ge=1, le=100)] | None = None
    background: str | None = None
    stripMetadata: bool = True

    @model_validator(mode="before")
    @classmethod
    def _absent_when_null(cls, data: Any) -> Any:
        # Conductor and ASL pass `null` for workflow inputs the caller left out: treat as absent.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @field_validator("background")
    @classmethod
    def _background_is_a_colour(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from PIL import ImageColor  # lazy: the planner should not pay for Pillow at cold start

        try:
            red, green, blue = ImageColor.getrgb(value)[:3]
        except ValueError as error:
            raise ValueError(f"not a colour: {value!r} (use '#rrggbb' or a CSS name)") from error
        return f"#{red:02x}{green:02x}{blue:02x}"

    def resolved_fit(self) -> Fit:
        """Combine `fit` and `maintainAspectRatio`; a contradiction is an error, not a guess."""
        if not self.maintainAspectRatio:
            if self.fit not in (None, "stretch"):
                raise InvalidRecipeError(
                    "fit", f"{self.fit!r} keeps the aspect ratio, which contradicts maintainAspectRatio=false"
                )
            return "stretch"
        if self.fit == "stretch" and "maintainAspectRatio" in self.model_fields_set:
            raise InvalidRecipeError("fit", "'stretch' contradicts maintainAspectRatio=true")
        return self.fit or "contain"


class ResizeInput(RecipeOptions):
    """`image_convert_resize` input."""

    fileLocation: str = Field(min_length=1, max_length=MAX_LOCATION_LENGTH)
    outputFormat: str
    outputWidth: Dimension
    outputHeight: Dimension


class OutputSize(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: Dimension
    height: Dimension


class PlanInput(RecipeOptions):
    """`image_multiple_convert_resize` input."""

    fileLocation: str = Field(min_length=1, max_length=MAX_LOCATION_LENGTH)
    outputFormats: list[str] = Field(min_length=1)
    outputSizes: list[OutputSize] = Field(min_length=1)
    subWorkflowName: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    subWorkflowVersion: Annotated[StrictInt, Field(ge=1)] | None = None


class UploadInput(BaseModel):
    """`upload_toS3` input; extra fields are tolerated because it usually receives the resize output."""

    model_config = ConfigDict(extra="ignore")
    fileLocation: str = Field(min_length=1, max_length=MAX_LOCATION_LENGTH)


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

    @property
    def output(self) -> OutputFormat:
        return OUTPUT_FORMATS[self.format]

    def canonical_json(self) -> str:
        return json.dumps({"v": RENDERER_VERSION, **asdict(self)}, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def make_recipe(
    options: RecipeOptions,
    output_format: object,
    width: int,
    height: int,
    *,
    max_dimension: int,
    fields: tuple[str, str, str] = ("outputFormat", "outputWidth", "outputHeight"),
) -> Recipe:
    """Validate limits and fill in defaults, producing the normalised Recipe. `fields` names the
    format, width and height in the caller's input (the planner's are `outputSizes.<i>.width`, ...),
    so errors point at what the caller wrote."""
    format_field, width_field, height_field = fields
    fmt = canonical_format(output_format, format_field)
    for field, value in ((width_field, width), (height_field, height)):
        if value > max_dimension:
            raise InvalidRecipeError(field, f"{value} exceeds the maximum of {max_dimension} pixels")
    quality = None
    if fmt.default_quality is not None:
        quality = options.quality if options.quality is not None else fmt.default_quality
    return Recipe(
        format=fmt.name,
        width=width,
        height=height,
        fit=options.resolved_fit(),
        upscale=options.upscale,
        quality=quality,
        background=options.background,
        strip_metadata=options.stripMetadata,
    )


def validation_problem(error: ValidationError) -> InvalidRecipeError:
    """Turn pydantic's errors into one InvalidRecipeError naming every offending field."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "input"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append((field, message))
    if not problems:
        return InvalidRecipeError("input", "invalid")
    (first_field, first_message), rest = problems[0], problems[1:]
    detail = "; ".join([first_message, *(f"{field}: {message}" for field, message in rest)])
    return InvalidRecipeError(first_field, detail)


InputModel = TypeVar("InputModel", bound=BaseModel)


def parse_event(event: object, model: type[InputModel]) -> InputModel:
    """Validate a task event with Powertools' parser (the project's event-parsing rule); its pydantic
    ValidationError becomes one InvalidRecipeError naming the fields. Only JSON objects are events:
    the parser would also accept a JSON string, which no Step Functions task sends."""
    if not isinstance(event, dict):
        raise InvalidRecipeError("input", f"expected a JSON object, got {type(event).__name__}")
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        raise validation_problem(error) from None


def parse_resize_input(event: object, *, max_dimension: int) -> tuple[str, Recipe]:
    """The resize task's event -> (source location, normalised recipe)."""
    parsed = parse_event(event, ResizeInput)
    recipe = make_recipe(
        parsed, parsed.outputFormat, parsed.outputWidth, parsed.outputHeight, max_dimension=max_dimension
    )
    return parsed.fileLocation, recipe
