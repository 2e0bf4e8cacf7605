"""SUB_WORKFLOW with an inline workflowDefinition, and with a name given as an expression, executed
in moto: the child that Conductor would start runs, and a name outside the allowed ones fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.project import Project, translate_deployable
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


REFUSED_CHILD = {
    "name": "broken",
    "tasks": [{"name": "k", "taskReferenceName": "publish", "type": "KAFKA_PUBLISH"}],
}


def _project(parent_definition: dict[str, Any], options: TranslatorOptions | None = None) -> Project:
    definitions = [parent_definition, child("child_a", "child_a"), REFUSED_CHILD]
    workflows = {d["name"]: WorkflowDef.model_validate(d) for d in definitions}
    return Project(task_defs("echo"), workflows, options or TranslatorOptions())


def test_a_default_target_set_leaves_the_refused_workflows_out_and_runs_the_others() -> None:
    """Without a sub_workflow_targets entry the parent may start every other workflow that translates:
    the refused one is left out (warned, with why), and naming it fails as an unknown name does."""
    deployable, findings = translate_deployable(_project(parent({"name": "${workflow.input.which}"})))
    assert sorted(deployable) == ["child_a", "parent"]
    assert deployable["parent"].child_workflows == {"child_a"}
    [warning] = [d for d in findings if d.workflow == "parent" and "broken" in d.message]
    assert warning.severity == "warning"
    assert "KAFKA_PUBLISH" in warning.message
    assert warning.location == "tasks[0].subWorkflowParam.name"
    with engine() as moto:
        moto.function("echo", echo)
        moto.deploy_translated(deployable)
        ran, refused = (moto.run("parent", {"which": w, "value": "v"}) for w in ("child_a", "broken"))
    assert ran.output == {"child": {"value": "v", "tag": "child_a"}}
    assert (refused.status, refused.error) == ("FAILED", "Conductor.UnknownSubWorkflow")


@pytest.mark.parametrize(
    "sub_workflow_param",
    [{"name": "${workflow.input.which}"}, {"name": "broken", "version": 1}],
    ids=["listed target", "literal child"],
)
def test_a_refused_workflow_named_by_the_parent_refuses_the_parent(
    sub_workflow_param: dict[str, Any],
) -> None:
    options = TranslatorOptions(sub_workflow_targets={"parent.sub_ref": ("child_a", "broken")})
    deployable, findings = translate_deployable(_project(parent(sub_workflow_param), options))
    assert sorted(deployable) == ["child_a"]
    [error] = [d for d in findings if d.workflow == "parent" and d.severity == "error"]
    assert "broken" in error.message


def test_a_dynamic_fork_and_a_start_workflow_leave_the_refused_workflows_out() -> None:
    """Their default target sets are the same: every other workflow that translates."""
    fork = {
        "name": "fork_parent",
        "tasks": [
            {"name": "echo", "taskReferenceName": "plan"},
            {
                "name": "fork",
                "taskReferenceName": "fork_ref",
                "type": "FORK_JOIN_DYNAMIC",
                "dynamicForkTasksParam": "dynamicTasks",
                "inputParameters": {"dynamicTasks": "${plan.output.dynamicTasks}"},
            },
            {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN"},
        ],
    }
    start = {
        "name": "start_parent",
        "tasks": [
            {
                "name": "start",
                "taskReferenceName": "start_ref",
                "type": "START_WORKFLOW",
                "inputParameters": {"startWorkflow": "${workflow.input.request}"},
            }
        ],
    }
    project = _project(child("child_b", "child_b"))
    workflows = {**project.workflows, "fork_parent": WorkflowDef.model_validate(fork)}
    workflows["start_parent"] = WorkflowDef.model_validate(start)
    deployable, findings = translate_deployable(Project(project.task_defs, workflows, project.options))
    assert "broken" not in deployable
    assert deployable["fork_parent"].child_workflows == {"child_a", "child_b", "start_parent"}
    assert "broken" not in deployable["start_parent"].started_workflows
    assert deployable["start_parent"].started_workflows
    left_out = [d.workflow for d in findings if d.severity == "warning" and "but broken" in d.message]
    assert sorted(left_out) == ["fork_parent", "start_parent"]
