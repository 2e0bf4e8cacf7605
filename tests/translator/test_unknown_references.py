"""References to tasks a workflow does not have: null where Conductor reads null, refused where its
registration refuses them (a top-level task's inputParameters) or a dynamic fork may name the task."""

from __future__ import annotations

from typing import Any

from tests.translator.harness import run_translated, task_defs, translate


def echo(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {"got": event}


def simple(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": "echo", "taskReferenceName": ref, "inputParameters": inputs}


def fork(branches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": branches},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": []},
    ]


def warnings_about(diagnostics: list[Any], ref: str) -> list[Any]:
    return [d for d in diagnostics if d.severity == "warning" and f"'{ref}'" in d.message]


def test_a_nested_task_and_the_workflow_output_read_an_unknown_task_as_null_with_a_warning() -> None:
    nested = simple("nested", whole="${ghost.output.x}", text="n-${ghost.output.x}", known="${first.output}")
    definition = {
        "name": "unknown_refs",
        "tasks": [simple("first", v="${workflow.input.v}"), *fork([[nested], [simple("other", v=1)]])],
        "outputParameters": {"missing": "${ghost.output.deep.y}", "seen": "${nested.output.got}"},
    }
    _, diagnostics = translate(definition, task_defs("echo"))
    assert {d.location for d in warnings_about(diagnostics, "ghost")} == {
        "tasks[1].forkTasks[0][0].inputParameters.whole",
        "tasks[1].forkTasks[0][0].inputParameters.text",
        "outputParameters.missing",
    }
    [execution] = run_translated(definition, [{"v": 7}], task_defs("echo"), {"echo": echo})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {
        "missing": None,
        # Conductor writes a null inside a longer string as "null" (Objects.toString)
        "seen": {"whole": None, "text": "n-null", "known": {"got": {"v": 7}}},
    }


def test_a_top_level_tasks_input_reading_an_unknown_task_stays_refused_as_conductor_refuses_it() -> None:
    _, diagnostics = translate(
        {"name": "w", "tasks": [simple("a"), simple("b", x={"deep": ["${ghost.output.x}"]})]},
        task_defs("echo"),
    )
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[1].inputParameters.x.deep[0]"
    assert "'ghost'" in error.message
    assert "register" in error.message


def test_a_reference_a_dynamic_fork_may_give_its_tasks_is_refused_naming_the_fork() -> None:
    dynamic = {
        "name": "dyn",
        "taskReferenceName": "dyn",
        "type": "FORK_JOIN_DYNAMIC",
        "inputParameters": {"forkTaskName": "echo", "forkTaskInputs": [{"a": 1}, {"a": 2}]},
    }
    join = {"name": "dyn_join", "taskReferenceName": "dyn_join", "type": "JOIN"}
    definition = {
        "name": "w",
        "tasks": [dynamic, join, simple("after")],
        "outputParameters": {"forked": "${_echo_1.output.got}", "other": "${_other_1.output}"},
    }
    _, diagnostics = translate(definition, task_defs("echo"))
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "outputParameters.forked"
    assert "'dyn'" in error.message
    # a name the fork cannot give is Conductor's null, as anywhere else
    assert [d.location for d in warnings_about(diagnostics, "_other_1")] == ["outputParameters.other"]


def test_an_inline_child_definition_is_not_registered_so_its_top_level_tasks_read_null_too() -> None:
    """Conductor validates what it registers; an embedded workflowDefinition never is (it may also
    share its parent's name: it is its own, finitely nested definition)."""
    inner: dict[str, Any] = {
        "name": "same",
        "tasks": [simple("inner", got="${ghost.output.x}", v="${workflow.input.v}")],
        "outputParameters": {"inner": "${inner.output.got}"},
    }
    sub = {
        "name": "sub",
        "taskReferenceName": "sub",
        "type": "SUB_WORKFLOW",
        "inputParameters": {"v": "${workflow.input.v}"},
        "subWorkflowParam": {"name": "same", "workflowDefinition": inner},
    }
    definition = {"name": "same", "tasks": [sub], "outputParameters": {"child": "${sub.output.inner}"}}
    _, diagnostics = translate(definition, task_defs("echo"))
    [warning] = warnings_about(diagnostics, "ghost")
    # the parent's finding, at its place in the parent's JSON
    assert (warning.workflow, warning.location) == (
        "same",
        "tasks[0].subWorkflowParam.workflowDefinition.tasks[0].inputParameters.got",
    )
    [execution] = run_translated(definition, [{"v": 2}], task_defs("echo"), {"echo": echo})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"child": {"got": None, "v": 2}}


def test_a_project_child_inlined_by_the_option_stays_registered_and_refused() -> None:
    from statemachines.translator import TranslatorOptions
    from statemachines.translator.model import WorkflowDef

    child = WorkflowDef.model_validate({"name": "inner", "tasks": [simple("c", x="${ghost.output.x}")]})
    sub = {
        "name": "sub",
        "taskReferenceName": "sub",
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": "inner"},
    }
    options = TranslatorOptions(inline_sub_workflows=True)
    _, diagnostics = translate(
        {"name": "outer", "tasks": [sub]}, task_defs("echo"), {"inner": child}, options
    )
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert (error.workflow, error.location) == ("outer", "tasks[0].subWorkflowParam.name")
    assert "inlined workflow 'inner': tasks[0].inputParameters.x" in error.message
    assert "'ghost'" in error.message
