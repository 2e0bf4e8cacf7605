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

from collections.abc import Iterator
from typing import Any

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.duration import longest_seconds
from statemachines.translator.model import TaskDef
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


def task_policy(
    task_def: TaskDef, options: TranslatorOptions, diagnostics: Diagnostics, location: str
) -> dict[str, Any]:
    """The `TimeoutSeconds` and `Retry` fields of a Lambda Task state for this task definition."""
    fields: dict[str, Any] = {}
    timeout_policy = task_def.timeoutPolicy
    if timeout_policy not in TIMEOUT_POLICIES:
        diagnostics.error(f"{location}.timeoutPolicy", f"unknown timeoutPolicy '{timeout_policy}'")
    if task_def.timeoutSeconds > 0:
        if timeout_policy == "ALERT_ONLY":
            diagnostics.warning(
                f"{location}.timeoutPolicy",
                "ALERT_ONLY lets a task run past timeoutSeconds; no TimeoutSeconds is set "
                "(the Lambda function's own timeout still applies)",
            )
        else:
            fields["TimeoutSeconds"] = task_def.timeoutSeconds
    retry: list[dict[str, Any]] = [
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
    never = list(options.non_retryable_errors)
    if timeout_policy == "TIME_OUT_WF" and "TimeoutSeconds" in fields:
        never.append("States.Timeout")  # Conductor times the whole workflow out, no retry
    if never:
        retry.append({"ErrorEquals": never, "MaxAttempts": 0})
    if task_def.retryCount > 0:
        retry.append(_conductor_retrier(task_def, diagnostics, location))
    fields["Retry"] = retry
    _warn_unmapped(task_def, diagnostics, location)
    return fields


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


def _warn_unmapped(task_def: TaskDef, diagnostics: Diagnostics, location: str) -> None:
    if task_def.rateLimitPerFrequency:
        diagnostics.warning(
            f"{location}.rateLimitPerFrequency",
            "Step Functions has no per-task rate limit; use the function's reserved concurrency",
        )
    if task_def.pollTimeoutSeconds:
        diagnostics.warning(f"{location}.pollTimeoutSeconds", "Lambda tasks are pushed, not polled: ignored")
    if task_def.responseTimeoutSeconds:
        diagnostics.warning(
            f"{location}.responseTimeoutSeconds",
            "a synchronous Lambda invoke has no separate response timeout: TimeoutSeconds covers it",
        )
