"""START_WORKFLOW whose whole request is an expression: read at run time, as Conductor's StartWorkflow
reads the resolved `startWorkflow` input."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from statemachines.translator import TranslatorOptions, translate_workflow
from statemachines.translator.model import WorkflowDef
from statemachines.translator.start_workflow import INVALID_REQUEST
from tests.translator.harness import EXECUTION_GUARD_SECONDS, Engine, engine, task_defs, translate


def echo(event: Any, _context: Any) -> Any:
    return {"received": event}


def child(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [
            {"name": "echo", "taskReferenceName": "c", "inputParameters": {"v": "${workflow.input.v}"}}
        ],
        "outputParameters": {"by": name, "v": "${c.output.received.v}"},
    }


CHILDREN = {name: WorkflowDef.model_validate(child(name)) for name in ("child_a", "child_b")}


def starter(optional: bool = False, request: str = "${workflow.input.request}") -> dict[str, Any]:
    start = {
        "name": "start",
        "taskReferenceName": "kick",
        "type": "START_WORKFLOW",
        "optional": optional,
        "inputParameters": {"startWorkflow": request},
    }
    return {"name": "starter", "tasks": [start], "outputParameters": {"kick": "${kick.output}"}}


def child_outputs(runtime: Engine, name: str) -> list[Any]:
    """The outputs of every execution of `name`, once each has finished."""
    outputs = []
    for execution in runtime.client.list_executions(stateMachineArn=runtime.arns[name])["executions"]:
        deadline = time.monotonic() + EXECUTION_GUARD_SECONDS
        while (described := runtime.client.describe_execution(executionArn=execution["executionArn"]))[
            "status"
        ] == "RUNNING":
            assert time.monotonic() < deadline, "child still running"
            time.sleep(0.02)
        outputs.append(json.loads(described["output"]))
    return outputs


def run_starter(definition: dict[str, Any], payloads: list[Any]) -> tuple[list[Any], dict[str, list[Any]]]:
    asl, diagnostics = translate(definition, task_defs("echo"), CHILDREN)
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    with engine() as runtime:
        runtime.function("echo", echo)
        for name in CHILDREN:
            runtime.deploy(name, json.dumps(translate(child(name), task_defs("echo"))[0]))
        runtime.deploy("starter", json.dumps(asl))
        results = [runtime.run("starter", payload) for payload in payloads]
        return results, {name: child_outputs(runtime, name) for name in CHILDREN}


def test_the_request_names_the_workflow_started_with_its_input_or_an_empty_one() -> None:
    payloads = [
        {"request": {"name": "child_b", "input": {"v": 5}, "version": 2}},
        {"request": {"name": "child_a"}},  # StartWorkflowRequest's input defaults to an empty map
    ]
    results, children = run_starter(starter(), payloads)
    assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"], [r.cause for r in results]
    started = [r.output["kick"]["workflowId"] for r in results]
    assert all(isinstance(workflow_id, str) and workflow_id for workflow_id in started)
    assert children == {"child_a": [{"by": "child_a", "v": None}], "child_b": [{"by": "child_b", "v": 5}]}


@pytest.mark.parametrize(
    "payload",
    [
        {},  # Missing 'startWorkflow' in input data
        {"request": "child_a"},  # not a StartWorkflowRequest
        {"request": {"input": {}}},  # name is required
        {"request": {"name": 3}},
        {"request": {"name": "ghost"}},  # no such workflow
        {"request": {"name": "child_a", "input": "text"}},  # input is a map
        {"request": {"name": "child_a", "input": None}},  # NULL input passed when starting workflow
    ],
)
def test_a_request_conductor_fails_on_fails_the_task(payload: Any) -> None:
    [result], children = run_starter(starter(), [payload])
    assert (result.status, result.error) == ("FAILED", INVALID_REQUEST)
    assert children == {"child_a": [], "child_b": []}


@pytest.mark.parametrize("name", ["${workflow.input.which}", "child_${workflow.input.suffix}"])
def test_a_request_object_whose_name_is_an_expression_starts_the_workflow_it_names(name: str) -> None:
    definition = starter()
    definition["tasks"][0]["inputParameters"]["startWorkflow"] = {
        "name": name,
        "input": {"v": "${workflow.input.v}"},
    }
    payloads = [{"which": "child_b", "suffix": "b", "v": 1}, {"which": "child_z", "suffix": "z", "v": 2}]
    (started, unknown), children = run_starter(definition, payloads)
    assert started.status == "SUCCEEDED", started.cause
    assert (unknown.status, unknown.error) == ("FAILED", INVALID_REQUEST)
    assert children == {"child_a": [], "child_b": [{"by": "child_b", "v": 1}]}


def test_an_optional_task_records_the_failure_and_the_workflow_goes_on() -> None:
    [result], _ = run_starter(starter(optional=True), [{"request": {"name": "ghost"}}])
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"kick": {}}


def test_the_targets_are_every_other_workflow_or_the_options_list() -> None:
    workflows = {**CHILDREN, "starter": WorkflowDef.model_validate(starter())}
    model = WorkflowDef.model_validate(starter())
    every = translate_workflow(model, task_defs("echo"), workflows)
    assert every.started_workflows == {"child_a", "child_b"}
    narrowed = translate_workflow(
        model,
        task_defs("echo"),
        workflows,
        TranslatorOptions(sub_workflow_targets={"starter.kick": ("child_b",)}),
    )
    assert narrowed.started_workflows == {"child_b"}
    [warning] = [d for d in narrowed.diagnostics if d.location == "tasks[0].inputParameters.startWorkflow"]
    assert "ignored" in warning.message


def test_a_request_built_inside_a_string_is_refused_naming_the_field() -> None:
    _, diagnostics = translate(starter(request="x-${workflow.input.request}"), task_defs("echo"), CHILDREN)
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[0].inputParameters.startWorkflow"
    assert "kick" in error.message
