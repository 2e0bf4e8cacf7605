"""SIMPLE tasks no Lambda worker serves: activity Task states with the task definition's policy."""

from __future__ import annotations

from typing import Any

from statemachines.translator import TranslatorOptions
from tests.translator.harness import engine, task_defs, translate

WORKERS = TranslatorOptions(lambda_workers=frozenset({"resize"}))


def _workflow(*names: str) -> dict[str, Any]:
    return {
        "name": "w",
        "tasks": [
            {
                "name": name,
                "taskReferenceName": f"{name}_ref",
                "inputParameters": {"x": "${workflow.input.x}"},
            }
            for name in names
        ],
    }


def _task_states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in asl["States"].items() if state["Type"] == "Task"}


def test_a_task_no_worker_serves_is_an_activity_and_a_served_one_stays_a_lambda() -> None:
    asl, diagnostics = translate(
        _workflow("resize", "label"), task_defs("resize", "label", responseTimeoutSeconds=10), options=WORKERS
    )
    assert not [d for d in diagnostics if d.severity == "error"]
    states = _task_states(asl)
    assert states["resize_ref"]["Resource"] == "arn:aws:states:::lambda:invoke"
    label = states["label_ref"]
    assert label["Resource"] == "${ActivityArn_label}"
    assert label["Parameters"] == {"x.$": "$.workflow.input.x"}
    assert label["ResultSelector"] == {"output.$": "$"}
    assert (label["HeartbeatSeconds"], label["TimeoutSeconds"]) == (10, 30)
    errors = [error for retrier in label["Retry"] for error in retrier["ErrorEquals"]]
    assert not [e for e in errors if e.startswith("Lambda.")]  # an activity raises no Lambda errors
    assert {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 1,
        "MaxAttempts": 2,
        "BackoffRate": 1.0,
    } in label["Retry"]
    assert not [d for d in diagnostics if d.location.startswith("taskDefs.label.responseTimeout")]


def test_without_lambda_workers_every_simple_task_is_a_lambda_task() -> None:
    asl, _ = translate(_workflow("label"), task_defs("label"))
    assert _task_states(asl)["label_ref"]["Resource"] == "arn:aws:states:::lambda:invoke"


def test_a_heartbeat_without_a_task_timeout_gets_the_documented_default_timeout() -> None:
    asl, _ = translate(
        _workflow("label"), task_defs("label", timeoutSeconds=0, responseTimeoutSeconds=3600), options=WORKERS
    )
    label = _task_states(asl)["label_ref"]
    assert (label["HeartbeatSeconds"], label["TimeoutSeconds"]) == (3600, 99_999_999)


def test_a_response_timeout_not_below_the_timeout_is_left_to_the_timeout() -> None:
    asl, diagnostics = translate(
        _workflow("label"), task_defs("label", timeoutSeconds=30, responseTimeoutSeconds=40), options=WORKERS
    )
    label = _task_states(asl)["label_ref"]
    assert "HeartbeatSeconds" not in label
    assert label["TimeoutSeconds"] == 30
    assert [d.location for d in diagnostics if "exceeds timeoutSeconds" in d.message] == [
        "taskDefs.label.responseTimeoutSeconds"
    ]


def test_a_task_without_a_definition_is_an_activity_under_conductors_default_definition() -> None:
    asl, diagnostics = translate(_workflow("label"), {}, options=WORKERS)
    assert not [d for d in diagnostics if d.severity == "error"]
    label = _task_states(asl)["label_ref"]
    assert (label["HeartbeatSeconds"], label["TimeoutSeconds"]) == (3600, 99_999_999)
    assert {
        "ErrorEquals": ["States.HeartbeatTimeout"],
        "IntervalSeconds": 60,
        "MaxAttempts": 3,
        "BackoffRate": 1.0,
    } in label["Retry"]
    assert [d.location for d in diagnostics if "default definition" in d.message] == ["tasks[0].name"]


def test_a_poll_timeout_is_warned_as_an_activity_finding() -> None:
    _, diagnostics = translate(_workflow("label"), task_defs("label", pollTimeoutSeconds=5), options=WORKERS)
    [warning] = [d for d in diagnostics if d.location == "taskDefs.label.pollTimeoutSeconds"]
    assert "activity" in warning.message


def test_a_dynamic_fork_of_an_activity_task_reads_the_item_as_input() -> None:
    workflow = {
        "name": "w",
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"forkTaskName": "label", "forkTaskInputs": "${workflow.input.items}"},
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
    }
    asl, diagnostics = translate(workflow, task_defs("label"), options=WORKERS)
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Resource") == "${ActivityArn_label}":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(asl)
    [state] = found
    assert state["InputPath"] == "$.item"
    assert "Parameters" not in state


def test_moto_accepts_and_runs_up_to_the_activity() -> None:
    """The ASL parses in moto; with no activity created the state fails as AWS does (States.Runtime)."""
    import json

    asl, _ = translate(_workflow("label"), task_defs("label", responseTimeoutSeconds=5), options=WORKERS)
    with engine() as sfn:
        sfn.deploy("w", json.dumps(asl))
        execution = sfn.run("w", {"x": 1})
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
