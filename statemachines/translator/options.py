"""Knobs of the translator that a team adapting it to their own workers would change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES

# Lambda service errors AWS recommends retrying on every Lambda task.
LAMBDA_SERVICE_ERRORS: tuple[str, ...] = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


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
