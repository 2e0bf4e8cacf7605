"""Each TaskDef field that shapes the Retry/TimeoutSeconds of a Lambda task."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES
from statemachines.project import translate_project
from statemachines.translator import TranslatorOptions
from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.duration import backoff_delays
from statemachines.translator.model import TaskDef
from statemachines.translator.options import (
    LAMBDA_SERVICE_ERRORS,
    LAMBDA_THROTTLE_ERRORS,
    START_EXECUTION_RETRY_ERRORS,
)
from statemachines.translator.retries import attempts_within, task_policy


def policy(
    options: TranslatorOptions | None = None, *, heartbeats: bool = False, **fields: Any
) -> tuple[dict[str, Any], Diagnostics]:
    diagnostics = Diagnostics("wf")
    task_def = TaskDef.model_validate({"name": "t", **fields})
    chosen = options or TranslatorOptions()
    return task_policy(task_def, chosen, diagnostics, "taskDefs.t", heartbeats=heartbeats).fields, diagnostics


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


def test_retry_count_zero_retries_only_lambda_service_errors_and_throttles() -> None:
    result, _ = policy(retryCount=0)
    assert all("States.ALL" not in r["ErrorEquals"] for r in result["Retry"])
    service = retrier(result, "Lambda.ServiceException")
    assert service["ErrorEquals"] == list(LAMBDA_SERVICE_ERRORS)
    assert service["MaxAttempts"] == 3
    assert service["JitterStrategy"] == "FULL"
    assert service["BackoffRate"] == 2.0
    assert "Lambda.TooManyRequestsException" not in service["ErrorEquals"]


def test_throttles_are_waited_out_for_the_budget_first() -> None:
    """Lambda's 429 is retried by its own retrier, first (the first matching retrier wins): jittered,
    2 s doubling to a 60 s cap, as many attempts as fit in the 7,200 s budget at their longest."""
    result, _ = policy(retryCount=3)
    throttle = result["Retry"][0]
    assert throttle["ErrorEquals"] == list(LAMBDA_THROTTLE_ERRORS)
    assert (throttle["IntervalSeconds"], throttle["BackoffRate"], throttle["MaxDelaySeconds"]) == (2, 2.0, 60)
    assert throttle["JitterStrategy"] == "FULL"
    delays = list(backoff_delays(2, 2.0, 60, throttle["MaxAttempts"]))
    assert delays[:6] == [2, 4, 8, 16, 32, 60]
    assert sum(delays) <= 7_200 < sum(delays) + 60
    assert throttle["MaxAttempts"] == 123


@pytest.mark.parametrize(("budget", "attempts"), [(0, 0), (1, 0), (2, 1), (61, 4), (62, 5), (122, 6)])
def test_throttle_attempts_follow_the_budget(budget: int, attempts: int) -> None:
    assert attempts_within(budget, TranslatorOptions()) == attempts
    result, _ = policy(TranslatorOptions(throttle_retry_budget_seconds=budget))
    assert retrier(result, "Lambda.TooManyRequestsException")["MaxAttempts"] == attempts


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
    result, diagnostics = policy(timeoutSeconds=30, timeoutPolicy="ALERT_ONLY", responseTimeoutSeconds=0)
    assert "TimeoutSeconds" not in result
    assert [d.location for d in diagnostics.warnings] == ["taskDefs.t.timeoutPolicy"]
    # the response timeout still ends a silent attempt
    result, _ = policy(timeoutSeconds=30, timeoutPolicy="ALERT_ONLY", responseTimeoutSeconds=20)
    assert result["TimeoutSeconds"] == 20


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rateLimitPerFrequency", 10),
        ("pollTimeoutSeconds", 10),
        ("inputTemplate", {"url": "https://example.com"}),
        ("backoffJitterMs", 250),
        ("totalTimeoutSeconds", 600),
        ("isolationGroupId", "gpu"),
        ("enforceSchema", True),
        ("someFutureField", "x"),
    ],
)
def test_fields_without_equivalent_are_warned(field: str, value: Any) -> None:
    _, diagnostics = policy(None, **{field: value})
    assert [d.location for d in diagnostics.warnings] == [f"taskDefs.t.{field}"]
    assert diagnostics.warnings[0].workflow == "wf"


def test_descriptive_fields_and_unset_limits_are_not_warned() -> None:
    _, diagnostics = policy(
        None,
        description="d",
        ownerEmail="a@b.c",
        inputKeys=["x"],
        createTime=1,
        rateLimitPerFrequency=0,
        rateLimitFrequencyInSeconds=60,
        inputTemplate={},
        concurrentExecLimit=5,  # a Lambda function's reserved concurrency (infra/concurrency.py)
    )
    assert not diagnostics.items


def test_conductor_defaults_are_those_of_its_task_def() -> None:
    """conductor-oss TaskDef.java: retryCount 3, FIXED, 60 s, responseTimeoutSeconds ONE_HOUR,
    timeoutSeconds 0, TIME_OUT_WF."""
    default = TaskDef.model_validate({"name": "t"})
    assert (default.retryCount, default.retryLogic, default.retryDelaySeconds) == (3, "FIXED", 60)
    assert (default.responseTimeoutSeconds, default.timeoutSeconds) == (3600, 0)
    assert default.timeoutPolicy == "TIME_OUT_WF"
    result, diagnostics = policy()
    assert result["TimeoutSeconds"] == 3600  # the response timeout ends a silent attempt ...
    assert all("States.Timeout" not in r["ErrorEquals"] for r in result["Retry"])  # ... and is retried
    assert retrier(result, "States.ALL")["MaxAttempts"] == 3
    assert not diagnostics.items


@pytest.mark.parametrize("timeout_policy", ["TIME_OUT_WF", "RETRY", "ALERT_ONLY"])
def test_a_response_timeout_shorter_than_the_timeout_is_retried_whatever_the_policy(
    timeout_policy: str,
) -> None:
    result, _ = policy(timeoutSeconds=60, responseTimeoutSeconds=5, timeoutPolicy=timeout_policy)
    assert result["TimeoutSeconds"] == 5
    assert all("States.Timeout" not in r["ErrorEquals"] for r in result["Retry"])


def test_the_timeout_policy_applies_when_the_timeout_comes_first() -> None:
    """Conductor checks timeoutSeconds before responseTimeoutSeconds: at equal values the policy wins."""
    result, diagnostics = policy(timeoutSeconds=30, responseTimeoutSeconds=30, timeoutPolicy="TIME_OUT_WF")
    assert result["TimeoutSeconds"] == 30
    assert retrier(result, "States.Timeout")["MaxAttempts"] == 0
    assert not diagnostics.items


def test_a_response_timeout_over_the_timeout_is_warned_as_conductor_refuses_it() -> None:
    result, diagnostics = policy(timeoutSeconds=40)  # responseTimeoutSeconds: the default 3600
    assert result["TimeoutSeconds"] == 40
    [warning] = diagnostics.warnings
    assert warning.location == "taskDefs.t.responseTimeoutSeconds"
    assert "3600, Conductor's default" in warning.message
    assert "TaskTimeoutConstraint" in warning.message


def test_with_heartbeats_the_response_timeout_is_heartbeat_seconds_retried_before_the_policy() -> None:
    result, _ = policy(
        heartbeats=True, timeoutSeconds=300, responseTimeoutSeconds=20, retryCount=2, retryDelaySeconds=5
    )
    assert (result["HeartbeatSeconds"], result["TimeoutSeconds"]) == (20, 300)
    errors = [r["ErrorEquals"] for r in result["Retry"]]
    # States.Timeout also matches a heartbeat timeout: the heartbeat retrier must come first
    assert errors.index(["States.HeartbeatTimeout"]) < next(
        i for i, e in enumerate(errors) if "States.Timeout" in e
    )
    assert retrier(result, "States.HeartbeatTimeout")["MaxAttempts"] == 2
    assert "Lambda.ServiceException" not in str(errors)  # not a Lambda task


TIMEOUTS = {"timeoutSeconds": 30, "responseTimeoutSeconds": 30}
SHORT_RESPONSE = {"timeoutSeconds": 30, "responseTimeoutSeconds": 5}


@pytest.mark.parametrize(
    ("heartbeats", "fields", "caught"),
    [
        (False, TIMEOUTS, ["States.TaskFailed"]),
        (False, SHORT_RESPONSE, ["States.ALL"]),  # the attempt ends at a response timeout: caught
        (False, {**TIMEOUTS, "timeoutPolicy": "RETRY"}, ["States.ALL"]),
        (True, SHORT_RESPONSE, ["States.HeartbeatTimeout", "States.TaskFailed"]),
    ],
)
def test_an_optional_catch_spares_only_a_time_out_wf_timeout(
    heartbeats: bool, fields: dict[str, Any], caught: list[str]
) -> None:
    task_def = TaskDef.model_validate({"name": "t", **fields})
    diagnostics = Diagnostics("wf")
    policy = task_policy(task_def, TranslatorOptions(), diagnostics, "taskDefs.t", heartbeats=heartbeats)
    assert policy.optional_catch_errors == caught


def test_zero_delay_becomes_one_second_with_a_warning() -> None:
    result, diagnostics = policy(retryCount=1, retryDelaySeconds=0)
    assert retrier(result, "States.ALL")["IntervalSeconds"] == 1
    assert [d.location for d in diagnostics.warnings] == ["taskDefs.t.retryDelaySeconds"]


def _task_states(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("Type") == "Task":
            yield node
        for value in node.values():
            yield from _task_states(value)
    elif isinstance(node, list):
        for value in node:
            yield from _task_states(value)


def test_child_starts_retry_a_refused_start_under_the_same_name_and_never_a_failed_child() -> None:
    asl = translate_project()["image_multiple_convert_resize_upload"].asl
    starts = [
        s for s in _task_states(asl) if s["Resource"].startswith("arn:aws:states:::states:startExecution")
    ]
    assert starts
    for start in starts:
        (only,) = start["Retry"]
        assert only["ErrorEquals"] == list(START_EXECUTION_RETRY_ERRORS)
        assert not {"States.ALL", "States.TaskFailed", "States.Timeout"} & set(only["ErrorEquals"])
        assert only["MaxAttempts"] == attempts_within(7_200, TranslatorOptions())
        assert "$$.Execution.RedriveCount" in start["Parameters"]["Name.$"]


def test_express_translation_fits_every_express_workflow_or_says_why() -> None:
    """What `workflowType: EXPRESS` deploys: each Express-compatible workflow's worst case is at most
    300 s, or the translation carries the warning that infra/workflows.py turns into a synth warning."""
    standard, express = translate_project(), translate_project(express=True)
    assert standard.keys() == express.keys()
    for name, tw in express.items():
        if not tw.express_compatible:
            assert tw.asl == standard[name].asl  # Standard-only workflows keep the long waits
            continue
        fitted = tw.worst_case_seconds is not None and tw.worst_case_seconds <= 300
        warned = any(d.location == "duration_budget_seconds" for d in tw.diagnostics)
        assert fitted or warned, name
        throttles = [
            r
            for s in _task_states(tw.asl)
            for r in s["Retry"]
            if r["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
        ]
        assert throttles
        assert all(r["MaxAttempts"] < attempts_within(7_200, TranslatorOptions()) for r in throttles)
