"""The workers' environment (docs/architecture.md, "Function environment") as one validated model.

Read per invocation, never at import: tests patch the environment, and the local runtime gives each
in-process invocation its own environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from lambdas.core import limits
from lambdas.core.errors import InvalidRecipeError
from lambdas.core.limits import DecodeLimits


class WorkerSettings(BaseModel):
    """Limits and destinations; the limit defaults are lambdas.core.limits, as in imgpipe.config."""

    model_config = ConfigDict(frozen=True)

    output_bucket: str = ""
    output_prefix: str = "renditions/"
    cache_control: str = "public, max-age=31536000, immutable"
    allowed_url_hosts: tuple[str, ...] = ()
    max_source_bytes: PositiveInt = limits.MAX_SOURCE_BYTES
    max_source_pixels: PositiveInt = Field(limits.MAX_SOURCE_PIXELS, le=limits.PILLOW_HARD_PIXEL_LIMIT)
    max_frames: PositiveInt = limits.MAX_FRAMES
    max_output_dimension: PositiveInt = limits.MAX_OUTPUT_DIMENSION
    max_fanout: PositiveInt = limits.MAX_FANOUT
    # Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE (the local runtime too); the memory model checks
    # each source against it before decoding.
    memory_size_mb: PositiveInt = limits.RESIZE_MEMORY_MB
    # the directory under which local paths may be read: empty on Lambda (no local paths at all)
    local_files_root: str = ""
    fetch_connect_timeout: float = Field(3.0, gt=0)
    fetch_read_timeout: float = Field(10.0, gt=0)

    @field_validator("output_prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        if value and not value.endswith("/"):
            raise ValueError("must be empty or end with '/'")
        return value

    def decode_limits(self) -> DecodeLimits:
        """The caps on a source, from MAX_SOURCE_BYTES/PIXELS, MAX_FRAMES and the function's memory."""
        return DecodeLimits(
            max_bytes=self.max_source_bytes,
            max_pixels=self.max_source_pixels,
            max_frames=self.max_frames,
            memory_mb=self.memory_size_mb,
        )

    def require_output_bucket(self) -> str:
        """OUTPUT_BUCKET, or a clear non-retryable error when the deployment forgot it."""
        if not self.output_bucket:
            raise InvalidRecipeError("environment.OUTPUT_BUCKET", "is not set; the function cannot publish")
        return self.output_bucket

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        """Build from environment variables; unset or empty variables keep their defaults."""
        env = os.environ if environ is None else environ
        names = {
            "output_bucket": "OUTPUT_BUCKET",
            "output_prefix": "OUTPUT_PREFIX",
            "cache_control": "CACHE_CONTROL",
            "max_source_bytes": "MAX_SOURCE_BYTES",
            "max_source_pixels": "MAX_SOURCE_PIXELS",
            "max_frames": "MAX_FRAMES",
            "max_output_dimension": "MAX_OUTPUT_DIMENSION",
            "max_fanout": "MAX_FANOUT",
            "memory_size_mb": "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        }
        values: dict[str, object] = {
            field: env[variable] for field, variable in names.items() if env.get(variable, "") != ""
        }
        hosts = env.get("ALLOWED_URL_HOSTS", "")
        values["allowed_url_hosts"] = tuple(h.strip().lower() for h in hosts.split(",") if h.strip())
        values["local_files_root"] = env.get("LOCAL_FILES_ROOT", "").strip()
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "environment"
            # A deployment mistake, not bad task input; still typed so it is never retried.
            raise InvalidRecipeError(
                f"environment.{names.get(field, field.upper())}", first["msg"]
            ) from error
