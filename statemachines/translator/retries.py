"""A Conductor TaskDef's retry and timeout policy as ASL Retry and TimeoutSeconds.

Conductor retries a failed task `retryCount` times after `retryDelaySeconds` (FIXED), doubling
(EXPONENTIAL_BACKOFF) or growing linearly (LINEAR_BACKOFF, approximated). On top of that, Lambda
service errors are retried with jittered backoff, and the workers' non-retryable errors never are.
"""

from __future__ import annotations

from typing import Any

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.model import TaskDef
from statemachines.translator.options import TranslatorOptions

TIMEOUT_POLICIES = ("TIME_OUT_WF", "RETRY", "ALERT_ONLY")
RETRY_LOGICS = ("FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF")


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
        {
            "ErrorEquals": list(options.lambda_service_errors),
            "IntervalSeconds": 1,
            "MaxAttempts": options.service_retry_attempts,
            "BackoffRate": 2.0,
            "MaxDelaySeconds": options.service_retry_max_delay_seconds,
            "JitterStrategy": "FULL",
        }
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
