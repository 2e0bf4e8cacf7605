"""Each function's environment as one pydantic-settings model: the only place a worker setting's
variable name, default, bounds and meaning are written.

A field is an environment variable (`max_fanout` is `MAX_FANOUT`). The deployment derives from these
models: `imgpipe.config.function_environment` (the CDK stack and the local runtime) serialises a
model built from the cdk.json values, `imgpipe.config.DeploymentConfig` takes its defaults from the
fields here and checks cdk.json against their bounds, and docs/architecture.md's table is compared
with them by a test. A new function is one model class here plus its `@settings_of(task)` line.

Read per invocation, never at import: tests patch the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Self, TypeVar

from pydantic import Field, PositiveInt, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lambdas.core import limits
from lambdas.core.errors import InvalidRecipeError
from lambdas.core.limits import DecodeLimits

# Marks a variable the Lambda service sets itself (and the local runtime like it): read by the
# workers, never written into a function's configuration.
SET_BY_LAMBDA: dict[str, Any] = {"setBy": "Lambda"}


def problem(message: str) -> str:
    """A pydantic error message without the "Value error, " a field validator's ValueError gets."""
    return message.removeprefix("Value error, ")


class FunctionSettings(BaseSettings):
    """What every function's environment holds: Powertools' variables and pydantic's plugin switch."""

    # An empty variable is the empty value (OUTPUT_PREFIX="" publishes at the bucket's root), exactly
    # what `environment()` wrote; for a number it is an error naming the variable.
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    powertools_service_name: str = Field(
        default="", description="Powertools' service name: the function's Conductor task name"
    )
    powertools_metrics_namespace: str = Field(
        default="imgpipe", description="CloudWatch namespace of the metrics"
    )
    powertools_log_level: str = Field(default="INFO", description="Powertools' log level")
    pydantic_disable_plugins: str = Field(
        default="__all__",
        description="no pydantic plugin discovery at import: 15-30 ms of every cold start "
        "(benchmarks/coldinit.py)",
    )

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of a field."""
        return field.upper()

    @classmethod
    def deployed_fields(cls) -> dict[str, FieldInfo]:
        """The fields a function's configuration sets (all but those Lambda sets itself)."""
        return {
            name: info for name, info in cls.model_fields.items() if info.json_schema_extra != SET_BY_LAMBDA
        }

    @classmethod
    def from_env(cls) -> Self:
        """This function's settings from `os.environ`; unset variables keep their defaults.
        A bad value is a deployment mistake, not bad task input: still typed, so it is never retried."""
        try:
            return cls()
        except ValidationError as error:
            first = error.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "environment"
            raise InvalidRecipeError(f"environment.{cls.variable(field)}", problem(first["msg"])) from error

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Self:
        """Settings from values by field name, every other field at its default: the process's own
        environment is not read (pydantic-settings reads it for any field not given)."""
        complete = {
            name: values[name] if name in values else info.get_default(call_default_factory=True)
            for name, info in cls.model_fields.items()
        }
        return cls.model_validate(complete)

    def environment(self) -> dict[str, str]:
        """The variables that make `from_env` return these settings (lists are comma-separated)."""
        environment = {}
        for name in self.deployed_fields():
            value = getattr(self, name)
            environment[self.variable(name)] = ",".join(value) if isinstance(value, tuple) else str(value)
        return environment


class LocalFilesSettings(FunctionSettings):
    """Whether plain paths may be read at all (adapters.sources.local_path_in_root)."""

    local_files_root: str = Field(
        default="",
        description="empty on Lambda and by default locally: plain paths are refused before any read; "
        "`imgpipe serve --files-root DIR` sets it to DIR, and then only paths that resolve (symlinks, "
        "`..`) under DIR are read",
    )

    @field_validator("local_files_root", mode="before")
    @classmethod
    def _stripped(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class LocationSettings(LocalFilesSettings):
    """Where a source may come from (adapters.sources.check_location)."""

    allowed_url_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="comma-separated host allow-list for https sources; empty = any public host"
    )

    @field_validator("allowed_url_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        hosts = value.split(",") if isinstance(value, str) else value
        if isinstance(hosts, list | tuple):
            return tuple(h.strip().lower() for h in hosts if isinstance(h, str) and h.strip())
        return hosts


class DecodeSettings(FunctionSettings):
    """The caps on one untrusted source and the memory of the function decoding it."""

    max_source_bytes: PositiveInt = Field(
        default=limits.MAX_SOURCE_BYTES, description="byte cap of a source image"
    )
    max_source_pixels: PositiveInt = Field(
        default=limits.MAX_SOURCE_PIXELS,
        # Pillow refuses larger images itself (lambdas.core.limits.PILLOW_HARD_PIXEL_LIMIT).
        le=limits.PILLOW_HARD_PIXEL_LIMIT,
        description="pixel cap of a source: width*height, and width*height*frames for animations",
    )
    max_frames: PositiveInt = Field(default=limits.MAX_FRAMES, description="frame cap of animated sources")
    aws_lambda_function_memory_size: PositiveInt = Field(
        default=limits.RESIZE_MEMORY_MB,
        description="MB; set by Lambda (and by the local runtime from `imgpipe:memorySize`): the memory "
        'model refuses sources that would not fit it (docs/workers.md, "Memory model")',
        json_schema_extra=SET_BY_LAMBDA,
    )

    def decode_limits(self) -> DecodeLimits:
        """The caps on a source, from MAX_SOURCE_BYTES/PIXELS, MAX_FRAMES and the function's memory."""
        return DecodeLimits(
            max_bytes=self.max_source_bytes,
            max_pixels=self.max_source_pixels,
            max_frames=self.max_frames,
            memory_mb=self.aws_lambda_function_memory_size,
        )


class SourceSettings(LocationSettings, DecodeSettings):
    """Reading and decoding a source (adapters.sources.read_source)."""


class PublishSettings(FunctionSettings):
    """Where and how renditions are published."""

    output_bucket: str = Field(
        default="", description="where renditions are published (the stack's output bucket)"
    )
    output_prefix: str = Field(
        default="renditions/", description="key prefix of renditions; empty or ending with `/`"
    )
    cache_control: str = Field(
        default="public, max-age=31536000, immutable", description="Cache-Control of renditions"
    )

    @field_validator("output_prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        if value and not value.endswith("/"):
            raise ValueError("must be empty or end with '/'")
        return value

    def require_output_bucket(self) -> str:
        """OUTPUT_BUCKET, or a clear non-retryable error when the deployment forgot it."""
        if not self.output_bucket:
            raise InvalidRecipeError("environment.OUTPUT_BUCKET", "is not set; the function cannot publish")
        return self.output_bucket


class RecipeSettings(FunctionSettings):
    """What one recipe may ask for."""

    max_output_dimension: PositiveInt = Field(
        default=limits.MAX_OUTPUT_DIMENSION, description="largest width/height a recipe may ask for"
    )


class FanoutSettings(RecipeSettings):
    """What one planning call may produce."""

    max_fanout: PositiveInt = Field(
        default=limits.MAX_FANOUT, description="most renditions one call may produce"
    )


SETTINGS_BY_FUNCTION: dict[str, type[FunctionSettings]] = {}
_Settings = TypeVar("_Settings", bound=type[FunctionSettings])


def settings_of(function: str) -> Callable[[_Settings], _Settings]:
    """Register a model as the environment of `function` (its Conductor task name)."""

    def register(model: _Settings) -> _Settings:
        if function in SETTINGS_BY_FUNCTION:
            raise ValueError(f"{function} already has settings: {SETTINGS_BY_FUNCTION[function].__name__}")
        SETTINGS_BY_FUNCTION[function] = model
        return model

    return register


@settings_of("image_convert_resize")
class ResizeSettings(PublishSettings, SourceSettings, RecipeSettings):
    """One rendition of one source."""


@settings_of("upload_toS3")
class UploadSettings(PublishSettings, LocalFilesSettings, DecodeSettings):
    """Republishing a rendition (or a local file under LOCAL_FILES_ROOT, sniffed under the decode caps)."""


@settings_of("image_multiple_convert_resize")
class PlannerSettings(LocationSettings, FanoutSettings):
    """Planning the renditions of a recipe: no bucket, no decoding."""


@settings_of("image_render_renditions")
class RenderAllSettings(PublishSettings, SourceSettings, FanoutSettings):
    """Every rendition of one source in one invocation."""


@settings_of("json_jq_transform")
class JqTransformSettings(FunctionSettings):
    """Conductor's JSON_JQ_TRANSFORM: nothing beyond every function's variables."""


@settings_of("conductor_api")
class ConductorApiEnvironment(FunctionSettings):
    """Conductor's REST API on AWS (infra/conductor_api.py sets the catalog at synth)."""

    conductor_workflows: str = Field(
        default="",
        description="JSON, by Conductor workflow name: `stateMachineArn`, `version`, `express`, `tasks` "
        "(`[taskReferenceName, name, type]`, what the status maps states back to); set by "
        "`infra/conductor_api.py`, parsed by `lambdas/conductor_api/environment.py` (at most Lambda's "
        "4 KB environment, checked at synth)",
    )


@settings_of("javascript_evaluator")
class JavaScriptSettings(FunctionSettings):
    """The JavaScript sandbox's limits: wall time and V8 heap per evaluation, the script's and the
    result's size."""

    javascript_timeout_ms: PositiveInt = Field(
        default=5_000,
        description="wall time of one script (Conductor's Nashorn has no bound); the Task state's own "
        "timeout (statemachines/translator/script_evaluation.py) is longer, so this fires first",
    )
    javascript_max_heap_mb: PositiveInt = Field(
        default=64, description="V8's hard heap limit for one evaluation (the function has 512 MB)"
    )
    javascript_max_script_chars: PositiveInt = Field(default=65_536, description="longest script accepted")
    javascript_max_result_bytes: PositiveInt = Field(
        default=limits.STATE_PAYLOAD_BYTES // 2,
        le=limits.STATE_PAYLOAD_BYTES,
        description="largest JSON result: half of Step Functions' 256 KiB state payload",
    )


def variable_field(variable: str) -> FieldInfo:
    """The one field that defines an environment variable, whichever functions read it."""
    for model in SETTINGS_BY_FUNCTION.values():
        field = model.model_fields.get(variable.lower())
        if field is not None:
            return field
    raise KeyError(f"no function's settings (lambdas/settings.py) have the variable {variable}")
