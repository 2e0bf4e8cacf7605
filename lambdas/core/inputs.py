"""The three tasks' inputs (the seeds' field names) as pydantic models, validated with Powertools'
parser, and `make_recipe`, which turns a validated input into the plain `lambdas.core.recipe.Recipe`.

Validation lives here, apart from the Recipe, so that the imaging core never imports pydantic or
Powertools (tests/lambdas/test_core_imports.py keeps it so).

Each function validates one of these models, so they are declared with `defer_build` and each
service builds the one it uses at import (`build_validators`): a function's cold init never pays
for the other tasks' validators (upload_toS3 would otherwise build four models it never uses).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

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
from lambdas.core.recipe import Fit, Recipe, canonical_format, normalised_recipe

MAX_LOCATION_LENGTH = 1024

Dimension = Annotated[StrictInt, Field(gt=0)]


class RecipeOptions(BaseModel):
    """Optional rendering fields shared by the resize task and the planner."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    maintainAspectRatio: bool = True
    fit: Fit | None = None
    upscale: bool = False
    quality: Annotated[StrictInt, Field(ge=1, le=100)] | None = None
    background: str | None = None
    stripMetadata: bool = True
    # "centre", "smart" or {"x": 0..1, "y": 0..1}; checked by `recipe.parse_gravity` (in
    # `make_recipe`), whose errors name `gravity.x` as the user wrote it
    gravity: Any = None

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
    model_config = ConfigDict(extra="forbid", defer_build=True)
    width: Dimension
    height: Dimension


class RecipeGrid(RecipeOptions):
    """Every format x size of a recipe, and its rendering options: what is applied to a source."""

    outputFormats: list[str] = Field(min_length=1)
    outputSizes: list[OutputSize] = Field(min_length=1)


class RenditionsRecipe(RecipeGrid):
    """What `image_render_renditions` renders of each source it is given, without the source: the
    S3 trigger's `defaultRecipe` and `imgpipe backfill --recipe` both reach the worker as these
    fields, so a backfill renders what an upload with the same recipe renders. `writeManifest=false`
    writes no manifest (one PUT less per source: $0.005 per 1,000)."""

    writeManifest: bool = True


class RenditionsInput(RenditionsRecipe):
    """`image_render_renditions` input: one source and its recipe. `skipExisting=false` writes every
    rendition without first asking S3 which exist (for a new upload, whose renditions cannot exist yet)."""

    fileLocation: str = Field(min_length=1, max_length=MAX_LOCATION_LENGTH)
    skipExisting: bool = True


class PlanInput(RecipeGrid):
    """`image_multiple_convert_resize` input: one source and the recipe grid, optionally one
    sub-workflow each."""

    fileLocation: str = Field(min_length=1, max_length=MAX_LOCATION_LENGTH)
    subWorkflowName: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    subWorkflowVersion: Annotated[StrictInt, Field(ge=1)] | None = None


class UploadInput(BaseModel):
    """`upload_toS3` input; extra fields are tolerated because it usually receives the resize output."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    fileLocation: str = Field(min_length=1, max_length=MAX_LOCATION_LENGTH)


def build_validators(*models: type[BaseModel]) -> None:
    """Build these deferred models' validators now: called at a service's import, so that the
    function's first invocation does not pay for it (cost stays in init, where it is measured)."""
    for model in models:
        model.model_rebuild(force=True)


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
    return normalised_recipe(
        fmt.name,
        width,
        height,
        fit=options.resolved_fit(),
        upscale=options.upscale,
        quality=options.quality,
        background=options.background,
        strip_metadata=options.stripMetadata,
        gravity=options.gravity,
        format_field=format_field,
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
