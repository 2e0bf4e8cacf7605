"""Worst-case duration of a translated workflow, reported against Express's 5 minutes; only children
and long Waits make a workflow Standard-only."""

from __future__ import annotations

from typing import Any

from statemachines.translator import TranslatorOptions, translate_workflow
from statemachines.translator.duration import longest_seconds
from statemachines.translator.model import WorkflowDef
from tests.translator.harness import task_defs


def translation(tasks: list[dict[str, Any]], **defs: Any):
    workflow = WorkflowDef.model_validate({"name": "w", "tasks": tasks})
    return translate_workflow(workflow, task_defs("echo", **defs))


def translation_with(options: TranslatorOptions, tasks: list[dict[str, Any]], **defs: Any):
    workflow = WorkflowDef.model_validate({"name": "w", "tasks": tasks})
    return translate_workflow(workflow, task_defs("echo", **defs), options=options)


def test_small_timeouts_and_delays_fit_in_express() -> None:
    result = translation(
        [{"name": "echo", "taskReferenceName": "a"}], retryCount=1, retryDelaySeconds=5, timeoutSeconds=10
    )
    # throttle waits (7,142 s of back-off; a refused attempt takes no time) + 10 s attempt + Lambda
    # service retries (1 + 2 + 4 s back-off, 3 x 10 s attempts) + 5 s + 10 s
    assert result.worst_case_seconds == 7_142 + 10 + (1 + 2 + 4 + 30) + (5 + 10)
    assert result.express_compatible


def express_fit(**defs: Any):
    """One task `a` translated with Express's budget."""
    tasks = [{"name": "echo", "taskReferenceName": "a"}]
    return translation_with(TranslatorOptions(duration_budget_seconds=300), tasks, **defs)


def test_express_budget_cuts_the_throttle_retries_until_the_worst_case_fits() -> None:
    """With the Express budget the throttle waits get what the rest leaves: 300 - 62 = 238 s, which
    holds 2 + 4 + ... + 32 + 60 + 60 = 182 s (7 attempts), not 242 s (8)."""
    fitted = express_fit(retryCount=1, retryDelaySeconds=5, timeoutSeconds=10)
    assert fitted.worst_case_seconds == 182 + 62
    assert fitted.worst_case_seconds <= 300
    throttle = fitted.asl["States"]["a"]["Retry"][0]
    assert throttle["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    assert throttle["MaxAttempts"] == 7
    assert not [d for d in fitted.diagnostics if d.location == "duration_budget_seconds"]


def test_express_budget_that_cannot_be_met_is_warned_and_keeps_no_throttle_retries() -> None:
    fitted = express_fit(retryCount=3, retryDelaySeconds=60, timeoutSeconds=30)
    assert fitted.asl["States"]["a"]["Retry"][0]["MaxAttempts"] == 0
    warnings = [d.location for d in fitted.diagnostics if d.severity == "warning"]
    assert warnings.count("duration_budget_seconds") == 1


def test_refused_attempts_take_no_time_but_their_delays_count() -> None:
    throttled = {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 2, "MaxAttempts": 3}
    failed = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3}
    for retrier, expected in ((throttled, 2 + 4 + 8), (failed, 2 + 4 + 8 + 3 * 30)):
        task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 30}
        machine = {"StartAt": "t", "States": {"t": {**task, "Retry": [retrier], "End": True}}}
        assert longest_seconds(machine) == 30 + expected


def test_seed_retry_delays_exceed_five_minutes_in_the_worst_case_which_is_reported_not_vetoed() -> None:
    result = translation(
        [{"name": "echo", "taskReferenceName": "a"}], retryCount=3, retryDelaySeconds=60, timeoutSeconds=30
    )
    assert result.worst_case_seconds is not None
    assert result.worst_case_seconds > 300
    assert result.express_compatible


def test_long_wait_and_unbounded_tasks_are_not_express() -> None:
    wait = {
        "name": "wait",
        "taskReferenceName": "w",
        "type": "WAIT",
        "inputParameters": {"duration": "10 minutes"},
    }
    assert not translation([wait], retryCount=0, timeoutSeconds=5).express_compatible
    no_timeout = translation([{"name": "echo", "taskReferenceName": "a"}], retryCount=0, timeoutSeconds=0)
    assert no_timeout.worst_case_seconds is not None
    assert no_timeout.worst_case_seconds >= 900  # the Lambda limit bounds an invoke without TimeoutSeconds


def test_switch_takes_the_longest_branch() -> None:
    switch = {
        "name": "s",
        "taskReferenceName": "s",
        "type": "SWITCH",
        "expression": "k",
        "inputParameters": {"k": "${workflow.input.k}"},
        "decisionCases": {
            "slow": [
                {
                    "name": "wait",
                    "taskReferenceName": "w",
                    "type": "WAIT",
                    "inputParameters": {"duration": "200s"},
                }
            ]
        },
        "defaultCase": [],
    }
    assert translation([switch]).worst_case_seconds == 200


def test_a_lambda_attempt_counts_at_most_the_lambda_limit_whatever_its_timeout_seconds() -> None:
    """Conductor's default responseTimeoutSeconds (3600) becomes TimeoutSeconds; Lambda ends at 900."""
    from statemachines.translator.asl_states import LAMBDA_INVOKE
    from statemachines.translator.duration import LAMBDA_MAX_SECONDS, longest_seconds

    def machine(timeout: int) -> dict[str, Any]:
        task = {"Type": "Task", "Resource": LAMBDA_INVOKE, "TimeoutSeconds": timeout, "End": True}
        return {"StartAt": "T", "States": {"T": task}}

    assert longest_seconds(machine(3600)) == LAMBDA_MAX_SECONDS
    assert longest_seconds(machine(30)) == 30
    activity = {"Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:a", "End": True}
    assert longest_seconds({"StartAt": "A", "States": {"A": activity}}) is None  # waits up to a year


def _standard_only_child(child_tasks: list[dict[str, Any]], *, inline: bool) -> bool:
    """Express compatibility of a parent whose only task is a SUB_WORKFLOW child of `child_tasks`."""
    child = WorkflowDef.model_validate({"name": "child", "tasks": child_tasks})
    parent = WorkflowDef.model_validate(
        {
            "name": "parent",
            "tasks": [
                {
                    "name": "c",
                    "taskReferenceName": "c",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": "child"},
                }
            ],
        }
    )
    options = TranslatorOptions(inline_sub_workflows=inline)
    translated = translate_workflow(parent, task_defs("echo"), {"child": child}, options)
    assert translated.ok, translated.diagnostics
    return not translated.express_compatible


def test_an_inlined_child_that_waits_or_is_signalled_makes_its_parent_standard_only() -> None:
    """Read from the ASL, so the waits of an inlined child count as the parent's own."""
    signal = {"name": "signal", "taskReferenceName": "s", "type": "WAIT"}
    long_wait = {
        "name": "wait",
        "taskReferenceName": "w",
        "type": "WAIT",
        "inputParameters": {"duration": "6m"},
    }
    short_wait = {**long_wait, "inputParameters": {"duration": "5m"}}
    assert _standard_only_child([signal], inline=True)  # Express has no .waitForTaskToken
    assert _standard_only_child([long_wait], inline=True)
    assert not _standard_only_child([short_wait], inline=True)  # 300 s: within Express's 5 minutes
    assert _standard_only_child([short_wait], inline=False)  # a .sync child: Standard-only
