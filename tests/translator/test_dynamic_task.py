"""DYNAMIC executed in moto: the task named by the input runs, under its own definition, and a
missing or unknown name fails the workflow, as DynamicTaskMapper terminates it."""

from __future__ import annotations

from typing import Any

import pytest

from statemachines.translator import TranslatorOptions
from tests.translator.harness import run_translated, task_defs, translate


def worker(tag: str) -> Any:
    return lambda event, _context: {"ran": tag, "input": event}


def dynamic(name: Any = "${workflow.input.which}", **extra: Any) -> dict[str, Any]:
    return {
        "name": "dyn_workflow",
        "tasks": [
            {
                "name": "dyntask",
                "taskReferenceName": "dyn",
                "type": "DYNAMIC",
                "dynamicTaskNameParam": "taskToExecute",
                "inputParameters": {"taskToExecute": name, "value": "${workflow.input.value}"},
                **extra,
            }
        ],
        "outputParameters": {"result": "${dyn.output}"},
    }


WORKERS = {"resize_a": worker("a"), "resize_b": worker("b")}


def test_the_task_named_by_the_input_runs_with_the_tasks_input() -> None:
    payloads = [{"which": "resize_a", "value": 1}, {"which": "resize_b", "value": 2}]
    a, b = run_translated(dynamic(), payloads, task_defs("resize_a", "resize_b"), WORKERS)
    assert a.output == {"result": {"ran": "a", "input": {"taskToExecute": "resize_a", "value": 1}}}
    assert b.output["result"]["ran"] == "b"


@pytest.mark.parametrize("which", ["resize_c", None, 7])
def test_a_missing_or_unknown_task_name_fails_the_workflow(which: Any) -> None:
    [execution] = run_translated(dynamic(), [{"which": which}], task_defs("resize_a", "resize_b"), WORKERS)
    assert execution.status == "FAILED"
    assert execution.error == "Conductor.UnknownDynamicTask"


def test_each_task_keeps_its_own_retry_policy() -> None:
    asl, _ = translate(
        dynamic(), {**task_defs("resize_a", retryCount=1), **task_defs("resize_b", retryCount=4)}
    )
    attempts = {
        name: [
            r["MaxAttempts"]
            for r in asl["States"][f"dyn: {name}"]["Retry"]
            if r["ErrorEquals"] == ["States.ALL"]
        ]
        for name in ("resize_a", "resize_b")
    }
    assert attempts == {"resize_a": [1], "resize_b": [4]}


def test_the_names_can_be_narrowed_and_a_literal_name_needs_no_choice() -> None:
    options = TranslatorOptions(dynamic_task_targets={"dyn_workflow.dyn": ("resize_b",)})
    asl, _ = translate(dynamic(), task_defs("resize_a", "resize_b"), options=options)
    assert "dyn: resize_a" not in asl["States"]
    literal, _ = translate(dynamic("resize_a"), task_defs("resize_a", "resize_b"))
    assert literal["States"]["dyn: resize_a"]["Type"] == "Task"
    assert not [s for s in literal["States"].values() if s.get("Error") == "Conductor.UnknownDynamicTask"]


@pytest.mark.parametrize(
    ("definition", "location"),
    [
        (dynamic("resize_z"), "tasks[0].inputParameters.taskToExecute"),
        (dynamic("resize_${workflow.input.n}"), "tasks[0].inputParameters.taskToExecute"),
        (
            {**dynamic(), "tasks": [{**dynamic()["tasks"][0], "dynamicTaskNameParam": "nope"}]},
            "tasks[0].dynamicTaskNameParam",
        ),
    ],
)
def test_names_that_cannot_be_routed_are_refused_at_their_field(
    definition: dict[str, Any], location: str
) -> None:
    _, diagnostics = translate(definition, task_defs("resize_a"))
    assert [d.location for d in diagnostics if d.severity == "error"] == [location]
