"""The JavaScript evaluator's limits, from its environment (JAVASCRIPT_*), defaults written here once.

Read per invocation, never at import, as the other workers' settings: tests patch the environment.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from lambdas.core.errors import InvalidRecipeError

ENV_PREFIX = "JAVASCRIPT_"
# Step Functions passes at most 256 KiB between states
# (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum input or
# output size for a task, state, or execution"): a result may take half of it.
STATE_PAYLOAD_BYTES = 256 * 1024


class JavaScriptSettings(BaseSettings):
    """The sandbox's limits: wall time and V8 heap per evaluation, the script's and the result's size."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    # Conductor's Nashorn evaluator has no bound; a script here gets this long (the Task state's own
    # timeout, statemachines/translator/javascript.py, is longer: the script's limit fires first).
    timeout_ms: PositiveInt = 5_000
    # V8's hard heap limit for one evaluation; the function's memory (imgpipe.config) leaves room for
    # Python, V8 itself and this heap.
    max_heap_mb: PositiveInt = 64
    max_script_chars: PositiveInt = 65_536
    max_result_bytes: PositiveInt = Field(default=STATE_PAYLOAD_BYTES // 2, le=STATE_PAYLOAD_BYTES)

    @classmethod
    def from_env(cls) -> JavaScriptSettings:
        """The settings, or a typed non-retryable error naming the variable that does not validate."""
        try:
            return cls()
        except ValidationError as error:
            first = error.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "environment"
            raise InvalidRecipeError(f"environment.{ENV_PREFIX}{field.upper()}", first["msg"]) from error
