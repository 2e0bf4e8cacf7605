"""Worst-case duration of a translated workflow, reported against Express's 5 minutes; only children
and long Waits make a workflow Standard-only."""

from __future__ import annotations

from typing import Any

from statemachines.translator import translate_workflow
from statemachines.translator.model import WorkflowDef
from tests.translator.harness import task_defs


def translation(tasks: list[dict[str, Any]], **defs: Any):
    workflow = WorkflowDef.model_validate({"name": "w", "tasks": tasks})
    return translate_workflow(workflow, task_defs("echo", **defs))


def test_small_timeouts_and_delays_fit_in_express() -> None:
    result = translation(
        [{"name": "echo", "taskReferenceName": "a"}], retryCount=1, retryDelaySeconds=5, timeoutSeconds=10
    )
    # 10 s attempt + Lambda service retries (1 + 2 + 4 s back-off, 3 x 10 s attempts) + 5 s + 10 s
    assert result.longest_seconds == 10 + (1 + 2 + 4 + 30) + (5 + 10)
    assert result.express_compatible


def test_seed_retry_delays_exceed_five_minutes_in_the_worst_case_which_is_reported_not_vetoed() -> None:
    result = translation(
        [{"name": "echo", "taskReferenceName": "a"}], retryCount=3, retryDelaySeconds=60, timeoutSeconds=30
    )
    assert result.longest_seconds is not None
    assert result.longest_seconds > 300
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
    assert no_timeout.longest_seconds is not None
    assert no_timeout.longest_seconds >= 900  # the Lambda limit bounds an invoke without TimeoutSeconds


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
    assert translation([switch]).longest_seconds == 200
