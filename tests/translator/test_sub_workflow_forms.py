"""SUB_WORKFLOW with an inline workflowDefinition, and with a name given as an expression, executed
in moto: the child that Conductor would start runs, and a name outside the allowed ones fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.translator import TranslatorOptions
from statemachines.translator.model import WorkflowDef
from tests.translator.harness import engine, run_translated, task_defs, translate


def echo(event: Any, _context: Any) -> Any:
    return {"echoed": event}


def child(name: str, tag: str) -> dict[str, Any]:
    return {
        "name": name,
        "inputParameters": ["value"],
        "tasks": [
            {
                "name": "echo",
                "taskReferenceName": "child_echo",
                "inputParameters": {"value": "${workflow.input.value}", "tag": tag},
            }
        ],
        "outputParameters": {"result": "${child_echo.output.echoed}"},
    }


def parent(sub_workflow_param: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "parent",
        "tasks": [
            {
                "name": "sub",
                "taskReferenceName": "sub_ref",
                "type": "SUB_WORKFLOW",
                "inputParameters": {"value": "${workflow.input.value}"},
                "subWorkflowParam": sub_workflow_param,
            }
        ],
        "outputParameters": {"child": "${sub_ref.output.result}"},
    }


def test_an_inline_workflow_definition_runs_as_the_child() -> None:
    definition = parent(
        {"name": "inline_child", "version": 1, "workflowDefinition": child("inline_child", "inline")}
    )
    [execution] = run_translated(definition, [{"value": 7}], task_defs("echo"), {"echo": echo})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"child": {"value": 7, "tag": "inline"}}


def test_an_invalid_inline_definition_is_refused_at_its_field() -> None:
    definition = parent({"name": "broken", "workflowDefinition": {"name": "broken", "tasks": []}})
    _, diagnostics = translate(definition, task_defs("echo"))
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[0].subWorkflowParam.workflowDefinition.tasks"


def test_a_refusal_inside_an_inline_definition_refuses_the_parent_at_its_place() -> None:
    """The parent's ASL would hold the refused part: the finding is the parent's."""
    kafka = {"name": "k", "taskReferenceName": "publish", "type": "KAFKA_PUBLISH"}
    definition = parent({"name": "inner", "workflowDefinition": {"name": "inner", "tasks": [kafka]}})
    _, diagnostics = translate(definition, task_defs("echo"))
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert (error.workflow, error.location) == (
        "parent",
        "tasks[0].subWorkflowParam.workflowDefinition.tasks[0].type",
    )


def _run_named(which: list[Any], options: TranslatorOptions) -> list[Any]:
    children = {name: WorkflowDef.model_validate(child(name, name)) for name in ("child_a", "child_b")}
    definition = parent({"name": "${workflow.input.which}", "version": 1})
    asl, diagnostics = translate(definition, task_defs("echo"), children, options)
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    with engine() as moto:
        moto.function("echo", echo)
        for name, workflow in children.items():
            child_asl, _ = translate(workflow.model_dump(), task_defs("echo"))
            moto.deploy(name, json.dumps(child_asl))
        moto.deploy("parent", json.dumps(asl))
        return [moto.run("parent", {"which": w, "value": "v"}) for w in which]


def test_a_name_given_as_an_expression_starts_the_workflow_it_names() -> None:
    a, b, unknown, missing = _run_named(["child_a", "child_b", "child_c", None], TranslatorOptions())
    assert a.output == {"child": {"value": "v", "tag": "child_a"}}
    assert b.output == {"child": {"value": "v", "tag": "child_b"}}
    for failed in (unknown, missing):
        assert failed.status == "FAILED"
        assert failed.error == "Conductor.UnknownSubWorkflow"


def test_the_allowed_names_can_be_narrowed_per_task() -> None:
    options = TranslatorOptions(sub_workflow_targets={"parent.sub_ref": ("child_b",)})
    a, b = _run_named(["child_a", "child_b"], options)
    assert a.error == "Conductor.UnknownSubWorkflow"
    assert b.output == {"child": {"value": "v", "tag": "child_b"}}


@pytest.mark.parametrize(
    ("name", "targets", "message"),
    [
        ("child_${workflow.input.which}", None, "must be one expression"),
        ("${workflow.input.which}", ("child_z",), "'child_z' is not among the workflows"),
        ("${workflow.input.which}", ("parent",), "cannot start itself"),
    ],
)
def test_names_that_cannot_be_told_statically_are_refused(name: str, targets: Any, message: str) -> None:
    options = TranslatorOptions(sub_workflow_targets={"parent.sub_ref": targets} if targets else {})
    others = {"child_a": WorkflowDef.model_validate(child("child_a", "a"))}
    _, diagnostics = translate(parent({"name": name}), task_defs("echo"), others, options)
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[0].subWorkflowParam.name"
    assert message in error.message
