"""TERMINATE (COMPLETED) inside a FORK_JOIN branch ends the whole workflow with its workflowOutput,
as Conductor's Terminate task does wherever it runs; executed in moto."""

from __future__ import annotations

from typing import Any

from tests.translator.harness import run_translated, task_defs


def echo(event: Any, _context: Any) -> Any:
    return {"tag": event["tag"]}


def entered(execution: Any) -> set[str]:
    """The states the execution entered, from its history."""
    return {
        e["stateEnteredEventDetails"]["name"] for e in execution.events if "stateEnteredEventDetails" in e
    }


def simple(ref: str) -> dict[str, Any]:
    return {"name": "echo", "taskReferenceName": ref, "inputParameters": {"tag": ref}}


def terminate(ref: str, output: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "TERMINATE",
        "inputParameters": {"terminationStatus": "COMPLETED", "workflowOutput": output},
    }


def fork(ref: str, branches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    join = {"name": "join", "taskReferenceName": f"{ref}_join", "type": "JOIN", "joinOn": []}
    return [{"name": "fork", "taskReferenceName": ref, "type": "FORK_JOIN", "forkTasks": branches}, join]


def run(tasks: list[dict[str, Any]], payload: Any) -> Any:
    definition = {"name": "fork_terminate", "tasks": tasks, "outputParameters": {"after": "${after.output}"}}
    [execution] = run_translated(definition, [payload], task_defs("echo"), {"echo": echo})
    assert execution.status == "SUCCEEDED", execution.cause
    return execution


def test_a_terminate_in_a_branch_ends_the_workflow_with_its_output() -> None:
    output = {"reason": "enough", "first": "${first.output.tag}", "asked": "${workflow.input.x}"}
    tasks = [*fork("f", [[simple("first"), terminate("stop", output)], [simple("other")]]), simple("after")]
    execution = run(tasks, {"x": 3})
    assert execution.output == {"reason": "enough", "first": "first", "asked": 3}
    assert "first" in entered(execution)
    assert "after" not in entered(execution)  # the workflow ended in the branch: nothing after the fork ran


def test_a_scalar_output_is_wrapped_as_conductor_wraps_it() -> None:
    tasks = [*fork("f", [[terminate("stop", "${workflow.input.x}")], [simple("other")]]), simple("after")]
    assert run(tasks, {"x": "done"}).output == {"output": "done"}
    assert run(tasks, {}).output == {}  # null: Conductor's empty output


def test_a_terminate_in_a_nested_fork_ends_the_outer_workflow_too() -> None:
    inner = fork("inner", [[terminate("stop", {"depth": 2})], [simple("sibling")]])
    tasks = [*fork("outer", [inner, [simple("other")]]), simple("after")]
    execution = run(tasks, {})
    assert execution.output == {"depth": 2}
    assert "after" not in entered(execution)


def test_a_branch_that_does_not_terminate_leaves_the_fork_as_it_was() -> None:
    definition = {
        "name": "fork_terminate",
        "tasks": [*fork("f", [[simple("a")], [simple("b")]]), simple("after")],
    }
    [execution] = run_translated(definition, [{}], task_defs("echo"), {"echo": echo})
    assert execution.output == {"tag": "after"}
    assert "after" in entered(execution)
