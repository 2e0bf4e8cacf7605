"""PERMISSIVE tasks translated and run in moto with stub workers.

Conductor's semantics (DeciderService, Join, PermissiveTaskMapper; ForkJoinTest's permissive
flows): a failed PERMISSIVE task does not stop the workflow; the JOIN waiting on it fails once every
joined task is terminal; a workflow about to complete fails when one failed; an optional one is an
optional task.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.translator.permissive import PERMISSIVE_FAILED
from tests.translator.harness import Execution, run_translated, task_defs, translate

pytestmark = pytest.mark.slow


class WorkerFailure(Exception):
    """What the stub worker raises when its input asks it to fail."""


def work(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    if event.get("fail"):
        raise WorkerFailure(f"{event['me']} asked to fail")
    return {"op": f"{event['me']} done", "saw": event.get("saw")}


def permissive(ref: str, *, optional: bool = False, saw: str | None = None) -> dict[str, Any]:
    inputs: dict[str, Any] = {"me": ref, "fail": f"${{workflow.input.fail_{ref}}}"}
    if saw is not None:
        inputs["saw"] = saw
    return {
        "name": "work",
        "taskReferenceName": ref,
        "type": "PERMISSIVE",
        "optional": optional,
        "inputParameters": inputs,
    }


DEFS = task_defs("work", retryCount=0)


def run(definition: dict[str, Any], *payloads: dict[str, Any]) -> list[Execution]:
    return run_translated(definition, payloads, DEFS, {"work": work})


def ran(execution: Execution) -> list[str]:
    """The task references the worker was called for, in order."""
    return [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]["me"]
        for e in execution.events
        if e["type"] == "TaskScheduled"
    ]


SEQUENCE = {
    "name": "permissive_sequence",
    "tasks": [permissive("t1"), permissive("t2", saw="${t1.output.op}")],
    "outputParameters": {"o2": "${t2.output.saw}", "o3": "${t1.output.op}"},
}


def test_a_failed_permissive_task_lets_the_next_run_and_fails_the_workflow_at_the_end() -> None:
    ok, failed = run(SEQUENCE, {}, {"fail_t1": True})
    assert ok.status == "SUCCEEDED", ok.cause
    assert ok.output == {"o2": "t1 done", "o3": "t1 done"}
    assert failed.status == "FAILED"
    assert failed.error == PERMISSIVE_FAILED
    assert "t1" in (failed.cause or "")
    # t2 still ran, and read the failed task's output as null, as in Conductor
    assert ran(failed) == ["t1", "t2"]
    t2_input = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]
        for e in failed.events
        if e["type"] == "TaskScheduled"
    ][1]
    assert t2_input["saw"] is None


def test_an_optional_permissive_task_is_an_optional_task() -> None:
    definition = {**SEQUENCE, "name": "permissive_optional"}
    definition["tasks"] = [permissive("t1", optional=True), permissive("t2", saw="${t1.output.op}")]
    (result,) = run(definition, {"fail_t1": True})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"o2": None, "o3": None}


def test_the_retries_of_a_permissive_task_come_first() -> None:
    definition = {**SEQUENCE, "name": "permissive_retried"}
    retried = task_defs("work", retryCount=2, retryDelaySeconds=0)
    (result,) = run_translated(definition, [{"fail_t1": True}], retried, {"work": work})
    assert result.status == "FAILED"
    assert result.error == PERMISSIVE_FAILED
    assert ran(result) == ["t1", "t1", "t1", "t2"]


def fork(branches: list[list[dict[str, Any]]], join_on: list[str], after: list[dict[str, Any]]) -> dict:
    return {
        "name": "permissive_fork",
        "tasks": [
            {"name": "fork", "taskReferenceName": "fanout", "type": "FORK_JOIN", "forkTasks": branches},
            {"name": "join", "taskReferenceName": "fanout_join", "type": "JOIN", "joinOn": join_on},
            *after,
        ],
    }


def test_a_joined_permissive_failure_fails_the_join_once_the_branches_are_done() -> None:
    # Conductor's FanInOutPermissiveTest: t1 fails, t2 completes, the JOIN fails, t3 never runs
    definition = fork([[permissive("t1")], [permissive("t2")]], ["t1", "t2"], [permissive("t3")])
    ok, failed = run(definition, {}, {"fail_t1": True})
    assert ok.status == "SUCCEEDED", ok.cause
    assert sorted(ran(ok)) == ["t1", "t2", "t3"]
    assert failed.status == "FAILED"
    assert failed.error == PERMISSIVE_FAILED
    assert sorted(ran(failed)) == ["t1", "t2"]


def test_a_failure_the_join_does_not_wait_for_fails_the_workflow_at_its_end() -> None:
    # Conductor's FanInOutPermissiveTest_2 shape: branch [t1, t3], branch [t2], joinOn [t3, t2]
    definition = fork(
        [[permissive("t1"), permissive("t3")], [permissive("t2")]], ["t3", "t2"], [permissive("t4")]
    )
    not_joined, joined = run(definition, {"fail_t1": True}, {"fail_t2": True})
    # t1 is not joined: t3, the JOIN and t4 go on, and the workflow fails when it would complete
    assert not_joined.status == "FAILED"
    assert not_joined.error == PERMISSIVE_FAILED
    assert sorted(ran(not_joined)) == ["t1", "t2", "t3", "t4"]
    # t2 is joined: the JOIN fails, t4 never runs
    assert joined.status == "FAILED"
    assert joined.error == PERMISSIVE_FAILED
    assert "t4" not in ran(joined)


def test_a_completing_terminate_still_fails_after_a_permissive_failure() -> None:
    # DeciderService checks the PERMISSIVE failures when a TERMINATE completed the workflow too
    definition = {
        "name": "permissive_terminate",
        "tasks": [
            permissive("t1"),
            {
                "name": "end",
                "taskReferenceName": "end",
                "type": "TERMINATE",
                "inputParameters": {"terminationStatus": "COMPLETED", "workflowOutput": {"done": True}},
            },
        ],
    }
    ok, failed = run(definition, {}, {"fail_t1": True})
    assert ok.status == "SUCCEEDED", ok.cause
    assert ok.output == {"done": True}
    assert failed.status == "FAILED"
    assert failed.error == PERMISSIVE_FAILED


def refusals(definition: dict[str, Any], defs: Any = DEFS) -> list[str]:
    _, diagnostics = translate(definition, defs)
    return [d.location for d in diagnostics if d.severity == "error"]


def test_refused_by_name() -> None:
    # no definition: Conductor's PermissiveTaskMapper fails the workflow (no default as for SIMPLE)
    assert sorted(refusals(SEQUENCE, {})) == ["tasks[0].name", "tasks[1].name"]
    inline = {**SEQUENCE, "tasks": [{**permissive("t1"), "taskDefinition": {"retryCount": 0}}]}
    inline["outputParameters"] = {}
    assert refusals(inline, {}) == []
    loop = {
        "name": "permissive_loop",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "$.loop['iteration'] < 2",
                "loopOver": [permissive("t1")],
            }
        ],
    }
    assert refusals(loop) == ["tasks[0].loopOver[0].type"]
    terminate = fork(
        [
            [permissive("t1")],
            [
                {
                    "name": "end",
                    "taskReferenceName": "end",
                    "type": "TERMINATE",
                    "inputParameters": {"terminationStatus": "COMPLETED"},
                }
            ],
        ],
        ["t1"],
        [],
    )
    assert refusals(terminate) == ["tasks[0].forkTasks[0][0].type"]


def test_workflows_without_permissive_tasks_get_no_check() -> None:
    plain = {"name": "plain", "tasks": [{**permissive("t1"), "type": "SIMPLE"}]}
    asl, _ = translate(plain, DEFS)
    assert PERMISSIVE_FAILED not in json.dumps(asl)
