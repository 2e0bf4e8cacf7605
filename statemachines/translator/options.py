"""Knobs of the translator that a team adapting it to their own workers would change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES

# Lambda service errors AWS recommends retrying on every Lambda task.
LAMBDA_SERVICE_ERRORS: tuple[str, ...] = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


# What a JOIN after a dynamic fork outputs: Conductor's map keyed by reference name, or the Map
# state's own list of {"taskReferenceName", "output"} (no assembly after the Map: fewer transitions).
DynamicJoinOutput = Literal["map", "list"]
DYNAMIC_JOIN_OUTPUTS: tuple[str, ...] = get_args(DynamicJoinOutput)


@dataclass(frozen=True)
class TranslatorOptions:
    """How Conductor constructs map to ASL where more than one answer is reasonable."""

    # worker error names that are never retried (Conductor's retryCount does not apply to them)
    non_retryable_errors: tuple[str, ...] = NON_RETRYABLE_ERROR_NAMES
    lambda_service_errors: tuple[str, ...] = LAMBDA_SERVICE_ERRORS
    service_retry_attempts: int = 3
    service_retry_max_delay_seconds: int = 20
    # upper bound of a dynamic fork's MaxConcurrency (concurrentExecLimit may only lower it)
    max_concurrency_cap: int = 20
    # inline SUB_WORKFLOW children (a one-branch Parallel) instead of startExecution.sync:2
    inline_sub_workflows: bool = False
    # "<workflow>.<fork taskReferenceName>" -> task and workflow names a legacy dynamic fork may run;
    # without an entry: every known task definition and every other known workflow
    dynamic_fork_targets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # JOIN output of every dynamic fork, and per "<workflow>.<join taskReferenceName>" overrides
    dynamic_join_output: DynamicJoinOutput = "map"
    dynamic_join_output_by_join: Mapping[str, DynamicJoinOutput] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """A wrong mode is refused here, naming the field, rather than silently becoming a map."""
        checked = {"dynamic_join_output": self.dynamic_join_output}
        checked |= {
            f"dynamic_join_output_by_join[{k!r}]": v for k, v in self.dynamic_join_output_by_join.items()
        }
        for name, value in checked.items():
            if value not in DYNAMIC_JOIN_OUTPUTS:
                raise ValueError(f"{name}: {value!r} is not one of {', '.join(DYNAMIC_JOIN_OUTPUTS)}")

    def join_output(self, workflow: str, join_ref: str) -> DynamicJoinOutput:
        """The JOIN output mode of one dynamic fork's JOIN."""
        return self.dynamic_join_output_by_join.get(f"{workflow}.{join_ref}", self.dynamic_join_output)
