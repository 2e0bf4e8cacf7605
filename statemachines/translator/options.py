"""Knobs of the translator that a team adapting it to their own workers would change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, StringConstraints

from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES

# Lambda service errors AWS recommends retrying on every Lambda task (transient 5xx; a few attempts).
# https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
LAMBDA_SERVICE_ERRORS: tuple[str, ...] = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
)
# Lambda refuses an invoke over the account's or the function's concurrency (429, before the function
# runs): "When Lambda hits the maximum number of invocations, the error is Lambda.TooManyRequestsException"
# (same page). Waited out with the long throttle policy, not the service errors' few attempts.
LAMBDA_THROTTLE_ERRORS: tuple[str, ...] = ("Lambda.TooManyRequestsException",)
# A child start that Step Functions refused or whose answer was lost: the open-execution quota
# (ExecutionLimitExceeded), StartExecution's token bucket (ThrottlingException), 5xx and client errors.
# AWS's integration sample retries "StepFunctions.ExecutionLimitExceeded"; moto/LocalStack name the
# same error "StepFunctions.ExecutionLimitExceededException": both are listed (an unused name is
# harmless). Never States.TaskFailed: that is a child that ran and failed, whose name is spent.
START_EXECUTION_RETRY_ERRORS: tuple[str, ...] = (
    "StepFunctions.ExecutionLimitExceeded",
    "StepFunctions.ExecutionLimitExceededException",
    "StepFunctions.ThrottlingException",
    "StepFunctions.AWSStepFunctionsException",
    "StepFunctions.SdkClientException",
)
# Errors raised before the task ran: an attempt ending in one of them takes no time of its own.
REFUSED_BEFORE_RUNNING: frozenset[str] = frozenset(LAMBDA_THROTTLE_ERRORS) | {
    "StepFunctions.ExecutionLimitExceeded",
    "StepFunctions.ExecutionLimitExceededException",
    "StepFunctions.ThrottlingException",
}


# What a JOIN after a dynamic fork outputs: Conductor's map keyed by reference name, or the Map
# state's own list of {"taskReferenceName", "output"} (no assembly after the Map: fewer transitions).
DynamicJoinOutput = Literal["map", "list"]
DYNAMIC_JOIN_OUTPUTS: tuple[str, ...] = get_args(DynamicJoinOutput)


# How Conductor constructs map to ASL where more than one answer is reasonable: one strict model, both
# `translator.json` (statemachines.project.load_options) and `TranslatorOptions(...)` in code. Strict: a
# wrong type is an error naming the field, never coerced (a string where a list belongs must not become
# a list of characters; "3" is not 3). Frozen: one translation's options never change under it.
# ASL Retrier bounds (MaxAttempts 0..99999999, IntervalSeconds 1..99999999, MaxDelaySeconds 1..31622400),
# as Step Functions' parser checks them (moto's copy: moto/stepfunctions/parser/asl/component/common/retry/
# max_attempts_decl.py, interval_seconds_decl.py, max_delay_seconds_decl.py).
RetryAttempts = Annotated[int, Field(ge=0, le=99_999_999)]
RetryInterval = Annotated[int, Field(ge=1, le=99_999_999)]
RetryDelay = Annotated[int, Field(ge=1, le=31_622_400)]
# "<workflow name>.<taskReferenceName>": the key per-task options are looked up by
OptionKey = Annotated[str, StringConstraints(pattern=r"^[^.]+\..+$")]
Name = Annotated[str, StringConstraints(min_length=1)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
EnvValue = str | int | float | bool | None


class TranslatorOptions(BaseModel):
    """How Conductor constructs map to ASL where more than one answer is reasonable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # worker error names that are never retried (Conductor's retryCount does not apply to them)
    non_retryable_errors: tuple[Name, ...] = NON_RETRYABLE_ERROR_NAMES
    lambda_service_errors: tuple[Name, ...] = LAMBDA_SERVICE_ERRORS
    service_retry_attempts: RetryAttempts = 3
    service_retry_max_delay_seconds: RetryDelay = 20
    # Throttles (Lambda concurrency, child starts) are waited out: back-off from 2 s doubling to a 60 s
    # cap, full jitter, as many attempts as fit in the budget: the sum of the longest delays. 7,200 s
    # (123 attempts) waits about 3,600 s on average (full jitter draws each delay from [0, cap]).
    # 0 = throttles are not retried.
    lambda_throttle_errors: tuple[Name, ...] = LAMBDA_THROTTLE_ERRORS
    start_execution_retry_errors: tuple[Name, ...] = START_EXECUTION_RETRY_ERRORS
    throttle_retry_interval_seconds: RetryInterval = 2
    throttle_retry_max_delay_seconds: RetryDelay = 60
    throttle_retry_budget_seconds: Annotated[int, Field(ge=0, le=31_622_400)] = 7_200
    # When set (Express: 300), the throttle retries are cut so that the workflow's worst case
    # (statemachines.translator.duration) stays within it; None = the budget above applies alone.
    # Set by the deployment (statemachines.project.translate_all), not by translator.json.
    duration_budget_seconds: Annotated[int, Field(ge=0)] | None = None
    # upper bound of a dynamic fork's MaxConcurrency (concurrentExecLimit may only lower it)
    max_concurrency_cap: PositiveInt = 20
    # inline SUB_WORKFLOW children (a one-branch Parallel) instead of startExecution.sync:2
    inline_sub_workflows: bool = False
    # "<workflow>.<fork taskReferenceName>" -> task and workflow names a legacy dynamic fork may run;
    # without an entry: every known task definition and every other known workflow
    dynamic_fork_targets: Mapping[OptionKey, tuple[Name, ...]] = Field(default_factory=dict)
    # the SIMPLE tasks a Lambda worker serves; every other SIMPLE task is a Step Functions activity
    # (a polling worker, statemachines.translator.activities). None: every SIMPLE task is a Lambda task.
    # Set by the project from imgpipe's workers (statemachines.project), not by translator.json.
    lambda_workers: frozenset[Name] | None = None
    # JOIN output of every dynamic fork, and per "<workflow>.<join taskReferenceName>" overrides
    dynamic_join_output: DynamicJoinOutput = "map"
    dynamic_join_output_by_join: Mapping[OptionKey, DynamicJoinOutput] = Field(default_factory=dict)
    # "<workflow>.<HTTP taskReferenceName>" -> the EventBridge connection (its authentication) the HTTP
    # task calls through; without an entry: the connection named "default" (statemachines.translator.http)
    http_connections: Mapping[OptionKey, Name] = Field(default_factory=dict)
    # "<workflow>.<SUB_WORKFLOW or START_WORKFLOW taskReferenceName>" -> the workflows a sub-workflow
    # named by an expression, or a START_WORKFLOW request given as one, may start; without an entry:
    # every other workflow (statemachines.translator.sub_workflow, start_workflow)
    sub_workflow_targets: Mapping[OptionKey, tuple[Name, ...]] = Field(default_factory=dict)
    # "<workflow>.<DYNAMIC taskReferenceName>" -> the task names it may run; without an entry: every
    # registered task definition (statemachines.translator.dynamic_task)
    dynamic_task_targets: Mapping[OptionKey, tuple[Name, ...]] = Field(default_factory=dict)
    # `${workflow.env.NAME}` -> its value, written into the definition (statemachines.translator.environment)
    workflow_env: Mapping[EnvName, EnvValue] = Field(default_factory=dict)
    # workflow name -> why it does not translate, for the project's refused workflows: a default target
    # set (no sub_workflow_targets or dynamic_fork_targets entry) leaves them out, with a warning; a
    # listed one refuses the task. Set by the project (statemachines.project.translate_deployable).
    refused_workflows: Mapping[str, str] = Field(default_factory=dict)

    # the fields the project and the deployment set, and why translator.json may not
    SET_BY_THE_PROJECT: ClassVar[Mapping[str, str]] = {
        "lambda_workers": "imgpipe's Lambda workers (imgpipe.config.WORKER_TASKS)",
        "duration_budget_seconds": "the deployment (an Express workflow's 300 s)",
        "refused_workflows": "the project's translation (statemachines.project.translate_deployable)",
    }

    def replace(self, **changes: Any) -> TranslatorOptions:
        """A copy with `changes`, validated as the constructor validates (`model_copy` does not)."""
        return type(self)(**(dict(self) | changes))

    def join_output(self, workflow: str, join_ref: str) -> DynamicJoinOutput:
        """The JOIN output mode of one dynamic fork's JOIN."""
        return self.dynamic_join_output_by_join.get(f"{workflow}.{join_ref}", self.dynamic_join_output)
