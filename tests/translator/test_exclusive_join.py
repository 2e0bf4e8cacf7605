"""EXCLUSIVE_JOIN executed in moto: the output of the branch that ran, in Conductor's order
(`joinOn`, then `defaultExclusiveJoinTask`), as `ExclusiveJoin.java` picks it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.translator.harness import run_translated, task_defs, translate


def echo(event: Any, _context: Any) -> Any:
    return {"payload": event["payload"], "by": event["by"]}


def simple(ref: str, payload: str) -> dict[str, Any]:
    return {"name": "echo", "taskReferenceName": ref, "inputParameters": {"payload": payload, "by": ref}}


def decision(ref: str, param: str, cases: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "name": "decide",
        "taskReferenceName": ref,
        "type": "DECISION",
        "inputParameters": {"value": f"${{workflow.input.{param}}}"},
        "caseValueParam": "value",
        "decisionCases": cases,
    }


# Conductor OSS's own test-harness workflow (exclusive_join_integration_test.json), SIMPLE tasks
# served by one stub worker
WORKFLOW: dict[str, Any] = {
    "name": "ExclusiveJoinTestWorkflow",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        simple("task1", "${workflow.input.payload}"),
        decision(
            "decision1",
            "decision_1",
            {
                "true": [
                    simple("task2", "${task1.output.payload}"),
                    decision(
                        "decision2", "decision_2", {"true": [simple("task3", "${task2.output.payload}")]}
                    ),
                ],
                "false": [
                    simple("task4", "${task1.output.payload}"),
                    decision(
                        "decision3", "decision_3", {"true": [simple("task5", "${task4.output.payload}")]}
                    ),
                ],
            },
        ),
        {
            "name": "exclusive_join",
            "taskReferenceName": "exclusiveJoin",
            "type": "EXCLUSIVE_JOIN",
            "joinOn": ["task3", "task5"],
            "defaultExclusiveJoinTask": ["task2", "task4", "task1"],
        },
    ],
}


@pytest.mark.parametrize(
    ("decisions", "picked"),
    [
        ({"decision_1": "true", "decision_2": "true"}, "task3"),
        ({"decision_1": "false", "decision_3": "true"}, "task5"),
        ({"decision_1": "true", "decision_2": "false"}, "task2"),  # the default list, in its order
        ({"decision_1": "false", "decision_3": "false"}, "task4"),
        ({"decision_1": "neither"}, "task1"),
    ],
)
def test_the_join_outputs_the_task_of_the_route_taken(decisions: dict[str, str], picked: str) -> None:
    [execution] = run_translated(
        WORKFLOW, [{"payload": "p-1", **decisions}], task_defs("echo"), {"echo": echo}
    )
    assert execution.status == "SUCCEEDED", execution.cause
    # no outputParameters: the workflow output is the last task's, the EXCLUSIVE_JOIN's
    assert execution.output == {"payload": "p-1", "by": picked}


def test_a_join_whose_tasks_never_ran_fails_instead_of_waiting_forever() -> None:
    definition = {
        "name": "nothing_joined",
        "tasks": [
            decision("d", "go", {"yes": [simple("a", "x")]}),
            {"name": "j", "taskReferenceName": "j", "type": "EXCLUSIVE_JOIN", "joinOn": ["a"]},
        ],
        "outputParameters": {"joined": "${j.output}"},
    }
    ran, skipped = run_translated(
        definition, [{"go": "yes"}, {"go": "no"}], task_defs("echo"), {"echo": echo}
    )
    assert ran.status == "SUCCEEDED", ran.cause
    assert ran.output == {"joined": {"payload": "x", "by": "a"}}
    assert skipped.status == "FAILED"
    assert skipped.error == "Conductor.ExclusiveJoinNothingRan"


@pytest.mark.parametrize(
    ("join", "location"),
    [
        ({"joinOn": []}, "tasks[1].joinOn"),
        ({"joinOn": ["nope"]}, "tasks[1].joinOn"),
        ({"joinOn": ["a"], "defaultExclusiveJoinTask": ["ghost"]}, "tasks[1].defaultExclusiveJoinTask"),
    ],
)
def test_a_join_on_unknown_or_no_tasks_is_refused_at_its_field(join: dict[str, Any], location: str) -> None:
    definition = {
        "name": "bad_join",
        "tasks": [
            simple("a", "x"),
            {"name": "j", "taskReferenceName": "j", "type": "EXCLUSIVE_JOIN", **join},
        ],
    }
    _, diagnostics = translate(definition, task_defs("echo"))
    assert [d.location for d in diagnostics if d.severity == "error"] == [location]
