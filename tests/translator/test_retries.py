"""Each TaskDef field that shapes the Retry/TimeoutSeconds of a Lambda task."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES
from statemachines.translator import TranslatorOptions
from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.model import TaskDef
from statemachines.translator.options import LAMBDA_SERVICE_ERRORS
from statemachines.translator.retries import task_policy


def policy(options: TranslatorOptions | None = None, **fields: Any) -> tuple[dict[str, Any], Diagnostics]:
    diagnostics = Diagnostics("wf")
    task_def = TaskDef.model_validate({"name": "t", **fields})
    return task_policy(task_def, options or TranslatorOptions(), diagnostics, "taskDefs.t"), diagnostics


def retrier(result: dict[str, Any], error: str) -> dict[str, Any]:
    return next(r for r in result["Retry"] if error in r["ErrorEquals"])


def test_fixed_retry_keeps_the_seed_values() -> None:
    result, _ = policy(retryCount=3, retryLogic="FIXED", retryDelaySeconds=60)
    assert retrier(result, "States.ALL") == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 60,
        "MaxAttempts": 3,
        "BackoffRate": 1.0,
    }
    assert result["Retry"][-1]["ErrorEquals"] == ["States.ALL"]  # States.ALL must be last


def test_exponential_backoff_doubles_and_caps_with_max_retry_delay() -> None:
    result, _ = policy(
        retryCount=5, retryLogic="EXPONENTIAL_BACKOFF", retryDelaySeconds=2, maxRetryDelaySeconds=30
    )
    all_errors = retrier(result, "States.ALL")
    assert all_errors["BackoffRate"] == 2.0
    assert all_errors["MaxDelaySeconds"] == 30


def test_linear_backoff_is_approximated_and_warned() -> None:
    result, diagnostics = policy(
        retryCount=3, retryLogic="LINEAR_BACKOFF", retryDelaySeconds=4, backoffScaleFactor=2
    )
    assert retrier(result, "States.ALL")["IntervalSeconds"] == 8
    assert any(d.location == "taskDefs.t.retryLogic" for d in diagnostics.warnings)


def test_unknown_retry_logic_is_an_error() -> None:
    _, diagnostics = policy(retryLogic="RANDOM")
    assert [d.location for d in diagnostics.errors] == ["taskDefs.t.retryLogic"]


def test_retry_count_zero_retries_only_lambda_service_errors() -> None:
    result, _ = policy(retryCount=0)
    assert all("States.ALL" not in r["ErrorEquals"] for r in result["Retry"])
    service = retrier(result, "Lambda.TooManyRequestsException")
    assert service["ErrorEquals"] == list(LAMBDA_SERVICE_ERRORS)
    assert service["JitterStrategy"] == "FULL"
    assert service["BackoffRate"] == 2.0


def test_worker_non_retryable_errors_are_never_retried() -> None:
    result, _ = policy(retryCount=3)
    never = retrier(result, "InvalidRecipeError")
    assert never["MaxAttempts"] == 0
    assert set(NON_RETRYABLE_ERROR_NAMES) <= set(never["ErrorEquals"])
    assert result["Retry"].index(never) < result["Retry"].index(retrier(result, "States.ALL"))


def test_non_retryable_names_are_an_option() -> None:
    result, _ = policy(TranslatorOptions(non_retryable_errors=("BadInput",)), retryCount=3, timeoutSeconds=0)
    assert retrier(result, "BadInput")["ErrorEquals"] == ["BadInput"]


def test_time_out_wf_sets_timeout_and_does_not_retry_it() -> None:
    result, _ = policy(timeoutSeconds=30, timeoutPolicy="TIME_OUT_WF", retryCount=3)
    assert result["TimeoutSeconds"] == 30
    assert retrier(result, "States.Timeout")["MaxAttempts"] == 0


def test_retry_policy_retries_timeouts() -> None:
    result, _ = policy(timeoutSeconds=30, timeoutPolicy="RETRY", retryCount=3)
    assert result["TimeoutSeconds"] == 30
    assert all("States.Timeout" not in r["ErrorEquals"] for r in result["Retry"])


def test_alert_only_sets_no_timeout_and_warns() -> None:
    result, diagnostics = policy(timeoutSeconds=30, timeoutPolicy="ALERT_ONLY")
    assert "TimeoutSeconds" not in result
    assert [d.location for d in diagnostics.warnings] == ["taskDefs.t.timeoutPolicy"]


@pytest.mark.parametrize("field", ["rateLimitPerFrequency", "pollTimeoutSeconds", "responseTimeoutSeconds"])
def test_fields_without_equivalent_are_warned(field: str) -> None:
    _, diagnostics = policy(None, **{field: 10})
    assert [d.location for d in diagnostics.warnings] == [f"taskDefs.t.{field}"]


def test_zero_delay_becomes_one_second_with_a_warning() -> None:
    result, diagnostics = policy(retryCount=1, retryDelaySeconds=0)
    assert retrier(result, "States.ALL")["IntervalSeconds"] == 1
    assert [d.location for d in diagnostics.warnings] == ["taskDefs.t.retryDelaySeconds"]
