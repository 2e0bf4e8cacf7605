"""A Conductor TaskDef's retry and timeout policy as ASL Retry and TimeoutSeconds, and the throttle
policy of every task.

Conductor retries a failed task `retryCount` times after `retryDelaySeconds` (FIXED), doubling
(EXPONENTIAL_BACKOFF) or growing linearly (LINEAR_BACKOFF, approximated). On top of that, Lambda
service errors are retried a few times with jittered backoff, and the workers' non-retryable errors
never are. Throttles (Lambda's concurrency, a child start refused) are waited out for as long as the
throttle budget allows: a burst degrades into waiting. In a workflow with a duration budget (Express:
300 s), `fit_throttle_retries` cuts them until the worst case fits (docs/reliability.md, "Bursts").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.duration import longest_seconds
from statemachines.translator.model import TaskDef, WorkflowTask
from statemachines.translator.options import TranslatorOptions

TIMEOUT_POLICIES = ("TIME_OUT_WF", "RETRY", "ALERT_ONLY")
RETRY_LOGICS = ("FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF")
THROTTLE_BACKOFF_RATE = 2.0


def attempts_within(budget_seconds: float, options: TranslatorOptions) -> int:
    """The most throttle retries whose delays, each at its longest, add up to at most the budget."""
    attempts, total = 0, 0.0
    interval, cap = options.throttle_retry_interval_seconds, options.throttle_retry_max_delay_seconds
    while True:
        delay = min(interval * THROTTLE_BACKOFF_RATE**attempts, cap)
        if total + delay > budget_seconds:
            return attempts
        total += delay
        attempts += 1


def throttle_retrier(errors: tuple[str, ...], options: TranslatorOptions) -> dict[str, Any]:
    """Waits out a throttle: jittered exponential back-off, capped, attempts from the budget."""
    return {
        "ErrorEquals": list(errors),
        "IntervalSeconds": options.throttle_retry_interval_seconds,
        "MaxAttempts": attempts_within(options.throttle_retry_budget_seconds, options),
        "BackoffRate": THROTTLE_BACKOFF_RATE,
        "MaxDelaySeconds": options.throttle_retry_max_delay_seconds,
        "JitterStrategy": "FULL",
    }


def start_execution_retry(options: TranslatorOptions) -> list[dict[str, Any]]:
    """The Retry of a `startExecution.sync:2` child start: only a start refused or lost is retried,
    under the same name (idempotent on Standard). A child that ran and failed is not."""
    return [throttle_retrier(options.start_execution_retry_errors, options)]


def _throttle_retriers(node: Any, errors: list[list[str]]) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for retrier in node.get("Retry", []) if isinstance(node.get("Retry"), list) else []:
            if retrier.get("ErrorEquals") in errors:
                yield retrier
        for value in node.values():
            yield from _throttle_retriers(value, errors)
    elif isinstance(node, list):
        for value in node:
            yield from _throttle_retriers(value, errors)


def fit_throttle_retries(
    asl: dict[str, Any], budget_seconds: int, options: TranslatorOptions, diagnostics: Diagnostics
) -> None:
    """Cut every throttle retrier to the same, largest number of attempts that keeps the worst case
    (every retry taken, every attempt timing out) within the budget; the proof is `longest_seconds`,
    the very function that reports the worst case. Warns when even no throttle retry fits."""
    errors = [list(options.lambda_throttle_errors), list(options.start_execution_retry_errors)]
    retriers = list(_throttle_retriers(asl, errors))
    if not retriers:
        return
    most = max(int(r["MaxAttempts"]) for r in retriers)

    def fits(attempts: int) -> bool:
        for retrier in retriers:
            retrier["MaxAttempts"] = attempts
        worst = longest_seconds(asl)
        return worst is not None and worst <= budget_seconds

    if longest_seconds(asl) is None:
        # a Map over a runtime list (or a child) has no static bound: the throttle waiting alone
        # is kept within the budget, and the deployer is told the rest cannot be proved
        for retrier in retriers:
            retrier["MaxAttempts"] = min(
                int(retrier["MaxAttempts"]), attempts_within(budget_seconds, options)
            )
        diagnostics.warning(
            "duration_budget_seconds",
            f"the worst case has no static bound, so fitting in {budget_seconds} s cannot be proved; "
            "throttle retries are limited to that budget on their own",
        )
        return
    low, high = 0, most
    if not fits(0):
        diagnostics.warning(
            "duration_budget_seconds",
            f"the worst case exceeds {budget_seconds} s even without throttle retries "
            f"({longest_seconds(asl):.0f} s): lower the task definitions' timeouts or retries",
        )
        return
    while low < high:  # the largest attempts that fit; fits() is monotonic in attempts
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    fits(low)


@dataclass(frozen=True)
class TaskPolicy:
    """The ASL fields of one task's Conductor policy, and what its Catch must respect."""

    fields: dict[str, Any]  # TimeoutSeconds, HeartbeatSeconds, Retry
    # a States.Timeout is Conductor's TIME_OUT_WF: it ends the workflow, so no optional task's Catch
    # may record it as COMPLETED_WITH_ERRORS (DeciderService.checkTaskTimeout throws before retry())
    timeout_ends_workflow: bool = False

    @property
    def optional_catch_errors(self) -> list[str]:
        """The ErrorEquals of an optional task's Catch: everything, or everything but a TIME_OUT_WF
        timeout (`States.TaskFailed` matches every error except States.Timeout,
        https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), with a
        heartbeat timeout (a response timeout, retried then recorded as in Conductor) named outright."""
        if not self.timeout_ends_workflow:
            return ["States.ALL"]
        if "HeartbeatSeconds" in self.fields:
            return ["States.HeartbeatTimeout", "States.TaskFailed"]
        return ["States.TaskFailed"]


def task_policy(
    task_def: TaskDef,
    options: TranslatorOptions,
    diagnostics: Diagnostics,
    location: str,
    *,
    heartbeats: bool = False,
    input_template: bool = False,
) -> TaskPolicy:
    """The policy of a Lambda Task state (`heartbeats=False`: the worker answers once, at the end) or
    of a task whose worker reports progress (`heartbeats=True`: an activity or a callback task, where
    `responseTimeoutSeconds` becomes HeartbeatSeconds). Lambda's own throttle and service errors are
    retried only on Lambda tasks; see `conductor_policy` for the rest. `input_template`: the caller
    merges the definition's inputTemplate into the task input (else it is warned as ignored)."""
    policy = conductor_policy(
        task_def, options, diagnostics, location, heartbeats=heartbeats, input_template=input_template
    )
    if heartbeats:
        return policy
    lambda_retry: list[dict[str, Any]] = [
        throttle_retrier(options.lambda_throttle_errors, options),
        {
            "ErrorEquals": list(options.lambda_service_errors),
            "IntervalSeconds": 1,
            "MaxAttempts": options.service_retry_attempts,
            "BackoffRate": 2.0,
            "MaxDelaySeconds": options.service_retry_max_delay_seconds,
            "JitterStrategy": "FULL",
        },
    ]
    fields = {**policy.fields, "Retry": lambda_retry + policy.fields["Retry"]}
    return TaskPolicy(fields, policy.timeout_ends_workflow)


def conductor_policy(
    task_def: TaskDef,
    options: TranslatorOptions,
    diagnostics: Diagnostics,
    location: str,
    *,
    heartbeats: bool,
    input_template: bool = False,
) -> TaskPolicy:
    """Conductor's timeouts and retries of one task (DeciderService): `timeoutSeconds` ends an
    attempt under its `timeoutPolicy`; `responseTimeoutSeconds` ends an attempt that stays silent
    that long and is retried whatever the policy (`timeoutTask` marks it TIMED_OUT, then `retry()`);
    a failure is retried `retryCount` times; the workers' non-retryable errors never are."""
    timeout_policy = task_def.timeoutPolicy
    if timeout_policy not in TIMEOUT_POLICIES:
        diagnostics.error(f"{location}.timeoutPolicy", f"unknown timeoutPolicy '{timeout_policy}'")
    task_timeout = _task_timeout(task_def, diagnostics, location)
    response = _response_timeout(task_def, task_timeout, diagnostics, location)
    fields: dict[str, Any] = {}
    retry: list[dict[str, Any]] = []
    conductor = _conductor_retrier(task_def, diagnostics, location) if task_def.retryCount > 0 else None
    if heartbeats:
        if response is not None:
            fields["HeartbeatSeconds"] = response
        if task_timeout is not None:
            fields["TimeoutSeconds"] = task_timeout
        # States.Timeout also matches a heartbeat timeout: the silent attempt is retried first
        if response is not None and conductor is not None:
            retry.append({**conductor, "ErrorEquals": ["States.HeartbeatTimeout"]})
        # without a response timeout, Step Functions' own default (99999999 s) bounds the wait
        fatal = task_timeout is not None and timeout_policy == "TIME_OUT_WF"
    elif response is not None:
        # the worker answers once: the attempt ends at the response timeout, which is retried
        fields["TimeoutSeconds"] = response
        fatal = False
    else:
        if task_timeout is not None:
            fields["TimeoutSeconds"] = task_timeout
        fatal = task_timeout is not None and timeout_policy == "TIME_OUT_WF"
    never = list(options.non_retryable_errors)
    if fatal:
        never.append("States.Timeout")  # Conductor times the whole workflow out, no retry
    if never:
        retry.append({"ErrorEquals": never, "MaxAttempts": 0})
    if conductor is not None:
        retry.append(conductor)
    fields["Retry"] = retry
    warn_unmapped_task_def(
        task_def, diagnostics, location, heartbeats=heartbeats, input_template=input_template
    )
    return TaskPolicy(fields, fatal)


def _task_timeout(task_def: TaskDef, diagnostics: Diagnostics, location: str) -> int | None:
    """`timeoutSeconds` as an attempt's TimeoutSeconds, unless ALERT_ONLY lets the task run on."""
    if task_def.timeoutSeconds <= 0:
        return None
    if task_def.timeoutPolicy == "ALERT_ONLY":
        diagnostics.warning(
            f"{location}.timeoutPolicy",
            "ALERT_ONLY lets a task run past timeoutSeconds; no TimeoutSeconds is set "
            "(the Lambda function's own timeout still applies)",
        )
        return None
    return task_def.timeoutSeconds


def _response_timeout(
    task_def: TaskDef, task_timeout: int | None, diagnostics: Diagnostics, location: str
) -> int | None:
    """`responseTimeoutSeconds` when it ends an attempt before `timeoutSeconds` does (Conductor checks
    the task timeout first: at equal values the timeout policy applies); None otherwise."""
    response = task_def.responseTimeoutSeconds
    if response <= 0:
        return None
    if task_def.timeoutSeconds > 0 and response > task_def.timeoutSeconds:
        given = "" if "responseTimeoutSeconds" in task_def.model_fields_set else ", Conductor's default"
        diagnostics.warning(
            f"{location}.responseTimeoutSeconds",
            f"responseTimeoutSeconds ({response}{given}) exceeds timeoutSeconds "
            f"({task_def.timeoutSeconds}): Conductor refuses this task definition "
            "(TaskTimeoutConstraint); here timeoutSeconds ends each attempt first",
        )
    if task_timeout is not None and response >= task_timeout:
        return None
    return response


def _conductor_retrier(task_def: TaskDef, diagnostics: Diagnostics, location: str) -> dict[str, Any]:
    delay = task_def.retryDelaySeconds
    logic = task_def.retryLogic
    if delay < 1:
        diagnostics.warning(
            f"{location}.retryDelaySeconds", "Step Functions waits at least 1 second between retries"
        )
    retrier: dict[str, Any] = {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": max(1, delay),
        "MaxAttempts": task_def.retryCount,
        "BackoffRate": 1.0,
    }
    if logic == "EXPONENTIAL_BACKOFF":
        retrier["BackoffRate"] = 2.0
    elif logic == "LINEAR_BACKOFF":
        retrier["IntervalSeconds"] = max(1, delay * task_def.backoffScaleFactor)
        retrier["BackoffRate"] = 1.5
        diagnostics.warning(
            f"{location}.retryLogic",
            "LINEAR_BACKOFF has no ASL equivalent: approximated by BackoffRate 1.5 "
            "(delays d, 1.5d, 2.25d instead of d, 2d, 3d)",
        )
    elif logic != "FIXED":
        diagnostics.error(f"{location}.retryLogic", f"unknown retryLogic '{logic}'")
    if task_def.maxRetryDelaySeconds:
        retrier["MaxDelaySeconds"] = task_def.maxRetryDelaySeconds
    return retrier


# TaskDef fields that document or identify a definition and change nothing at run time
DESCRIPTIVE_TASK_DEF_FIELDS = frozenset(
    {
        "name",
        "description",
        "ownerEmail",
        "ownerApp",
        "createTime",
        "updateTime",
        "createdBy",
        "updatedBy",
        "inputKeys",
        "outputKeys",
        "tags",
        "accessPolicy",
    }
)
# TaskDef fields (Conductor OSS and Orkes) with no Step Functions equivalent, and why
UNMAPPED_TASK_DEF_FIELDS = {
    "rateLimitPerFrequency": "Step Functions has no per-task rate limit; use the function's reserved "
    "concurrency",
    "pollTimeoutSeconds": "Lambda tasks are pushed, not polled",
    "inputTemplate": "default inputs from the task definition are not merged into a dynamically "
    "forked task's input; give them in its input",
    "backoffJitterMs": "Step Functions' jitter is all or nothing (JitterStrategy FULL); no "
    "millisecond jitter",
    "totalTimeoutSeconds": "no bound on all attempts together: each attempt has its own TimeoutSeconds",
    "isolationGroupId": "workers are Lambda functions, not isolated polling groups",
    "executionNameSpace": "workers are Lambda functions, not polling namespaces",
    "enforceSchema": "input and output schemas are not validated",
    "inputSchema": "input schemas are not validated",
    "outputSchema": "output schemas are not validated",
}
# WorkflowTask fields of a worker task with no Step Functions equivalent
UNMAPPED_WORKFLOW_TASK_FIELDS = {
    "startDelay": "a task starts as soon as the previous one ends",
    "rateLimited": "Step Functions has no per-task rate limit",
    "asyncComplete": "a Lambda task completes when the function returns",
    "permissive": "a task's failure follows its retries and `optional` only",
    "cacheConfig": "task results are not cached",
    "onStateChange": "task state changes publish no events",
}


def _is_set(value: Any) -> bool:
    return value not in (None, False, 0, "", [], {})


def warn_unmapped_task_def(
    task_def: TaskDef,
    diagnostics: Diagnostics,
    location: str,
    *,
    heartbeats: bool = False,
    input_template: bool = False,
) -> None:
    """A warning per TaskDef field that changes Conductor's behaviour and has no equivalent here,
    named by its location: nothing is dropped silently. `input_template`: the inputTemplate is merged
    into the task input by the caller (task_states), so it is mapped, not warned."""
    # rateLimitFrequencyInSeconds is the window of rateLimitPerFrequency: warned with it
    values = task_def.model_dump(include={"rateLimitPerFrequency", "pollTimeoutSeconds", "inputTemplate"})
    if input_template:
        values.pop("inputTemplate")
    values |= task_def.model_extra or {}
    if heartbeats:
        values["concurrentExecLimit"] = task_def.concurrentExecLimit
    for field_name, value in values.items():
        if field_name in DESCRIPTIVE_TASK_DEF_FIELDS or not _is_set(value):
            continue
        reason = UNMAPPED_TASK_DEF_FIELDS.get(field_name, "no Step Functions equivalent")
        if field_name == "concurrentExecLimit":
            reason = "the number of workers polling an activity is its only concurrency limit"
        diagnostics.warning(f"{location}.{field_name}", f"{reason}: ignored")


def warn_unmapped_workflow_task(task: WorkflowTask, diagnostics: Diagnostics, location: str) -> None:
    """A warning per field of a worker task in the workflow that has no equivalent here."""
    extra = task.model_extra or {}
    for field_name, reason in UNMAPPED_WORKFLOW_TASK_FIELDS.items():
        if _is_set(extra.get(field_name)):
            diagnostics.warning(f"{location}.{field_name}", f"{reason}: '{field_name}' is ignored")


def warn_child_policy(
    task: WorkflowTask, registered: Mapping[str, TaskDef], diagnostics: Diagnostics, location: str
) -> None:
    """A SUB_WORKFLOW task with a task policy of its own (its `retryCount`, an inline or registered
    definition of its name): Conductor would retry the child or time it out (DeciderService.retry
    reads the task's definition for any task type); the translation starts each child once."""
    governing = task.taskDefinition or registered.get(task.name)
    retries = task.retryCount if task.retryCount is not None else (governing.retryCount if governing else 0)
    timeout = governing.timeoutSeconds if governing else 0
    if retries or timeout:
        where = f"{location}.retryCount" if task.retryCount else f"{location}.name"
        diagnostics.warning(
            where,
            f"SUB_WORKFLOW '{task.taskReferenceName}' has a task policy (retryCount {retries}, "
            f"timeoutSeconds {timeout}): a failed child is not started again and no timeout is set; "
            "only a refused or lost start is retried",
        )
