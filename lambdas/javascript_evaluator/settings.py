"""The JavaScript evaluator's limits: one pydantic-settings model, a field per environment variable
(`javascript_timeout_ms` is `JAVASCRIPT_TIMEOUT_MS`), each default written here once.

Read per invocation, never at import, as the other workers' settings: tests patch the environment.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from lambdas.core.errors import InvalidRecipeError

# Step Functions passes at most 256 KiB between states
# (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum input or
# output size for a task, state, or execution"): a result may take half of it.
STATE_PAYLOAD_BYTES = 256 * 1024


class JavaScriptSettings(BaseSettings):
    """The sandbox's limits: wall time and V8 heap per evaluation, the script's and the result's size."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

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
        default=STATE_PAYLOAD_BYTES // 2,
        le=STATE_PAYLOAD_BYTES,
        description="largest JSON result: half of Step Functions' 256 KiB state payload",
    )

    @classmethod
    def from_env(cls) -> JavaScriptSettings:
        """The settings, or a typed non-retryable error naming the variable that does not validate."""
        try:
            return cls()
        except ValidationError as error:
            first = error.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "environment"
            raise InvalidRecipeError(f"environment.{field.upper()}", first["msg"]) from error
