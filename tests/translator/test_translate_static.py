"""Translation without execution: what each construct becomes, and what is refused and why."""

from __future__ import annotations

from typing import Any

import pytest

from statemachines.translator import TranslatorOptions
from statemachines.translator.model import WorkflowDef, WorkflowTask
from tests.translator.harness import task_defs, translate


def simple(ref: str, name: str = "echo", **inputs: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "inputParameters": inputs}


def errors(diagnostics) -> list[tuple[str, str]]:
    return [(d.location, d.message) for d in diagnostics if d.severity == "error"]


def test_missing_type_means_simple_and_extra_fields_are_tolerated() -> None:
    task = WorkflowTask.model_validate(
        {
            "name": "echo",
            "taskReferenceName": "r",
            "startDelay": 0,
            "asyncComplete": False,
            "rateLimited": None,
        }
    )
    assert task.type == "SIMPLE"
    asl, diagnostics = translate(
        {"name": "w", "tasks": [simple("r")], "restartable": True}, task_defs("echo")
    )
    assert not errors(diagnostics)
    assert asl["States"]["r"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert asl["States"]["r"]["Parameters"]["FunctionName"] == "${LambdaArn_echo}"
    assert asl["QueryLanguage"] == "JSONPath"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("KAFKA_PUBLISH", "Kafka"),
        ("WAIT_FOR_WEBHOOK", "webhooks"),
        ("SOMETHING_NEW", "no Step Functions translation"),
    ],
)
def test_untranslatable_task_types_are_refused_naming_reference_and_type(kind: str, reason: str) -> None:
    _, diagnostics = translate(
        {"name": "w", "tasks": [simple("a"), {"name": "x", "taskReferenceName": "the_ref", "type": kind}]},
        task_defs("echo"),
    )
    [(location, message)] = errors(diagnostics)
    assert location == "tasks[1].type"
    assert "the_ref" in message
    assert kind in message
    assert reason in message


def test_simple_task_without_definition_gets_conductors_default_definition() -> None:
    """MetadataMapperService gives a SIMPLE task without a definition `new TaskDef(name)`."""
    asl, diagnostics = translate({"name": "w", "tasks": [simple("a", name="image_toS3")]}, task_defs("echo"))
    assert not errors(diagnostics)
    [warning] = [d for d in diagnostics if d.location == "tasks[0].name"]
    assert "image_toS3" in warning.message
    assert "Conductor's default definition" in warning.message
    state = asl["States"]["a"]
    assert state["TimeoutSeconds"] == 3600  # responseTimeoutSeconds: a silent attempt ends, retried
    [conductor] = [r for r in state["Retry"] if r["ErrorEquals"] == ["States.ALL"]]
    assert (conductor["MaxAttempts"], conductor["IntervalSeconds"], conductor["BackoffRate"]) == (3, 60, 1.0)


def test_output_parameters_referencing_unknown_tasks_read_null_with_a_warning_at_their_path() -> None:
    """Conductor's registration checks top-level tasks' inputParameters only; it reads null here."""
    asl, diagnostics = translate(
        {"name": "w", "tasks": [simple("a")], "outputParameters": {"out": {"deep": "${nope_ref.output.x}"}}},
        task_defs("echo"),
    )
    assert not errors(diagnostics)
    [warning] = [d for d in diagnostics if "nope_ref" in d.message]
    assert (warning.severity, warning.location) == ("warning", "outputParameters.out.deep")
    assert "null" in warning.message
    assert "nope_ref" not in str(asl)


@pytest.mark.parametrize(
    ("tasks", "fragment"),
    [
        (
            [{"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[simple("a")]]}],
            "JOIN",
        ),
        ([simple("a"), {"name": "j", "taskReferenceName": "j", "type": "JOIN"}], "does not follow a fork"),
        ([simple("a"), simple("a")], "more than once"),
        (
            [
                {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[simple("a")]]},
                {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["zzz"]},
            ],
            "zzz",
        ),
        (
            [
                {
                    "name": "w",
                    "taskReferenceName": "w",
                    "type": "WAIT",
                    "inputParameters": {"duration": "1s", "until": "2020-01-01"},
                }
            ],
            "both duration and until",
        ),
        (
            [
                {
                    "name": "c",
                    "taskReferenceName": "c",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": "ghost"},
                }
            ],
            "ghost",
        ),
    ],
)
def test_structural_errors(tasks: list[dict[str, Any]], fragment: str) -> None:
    _, diagnostics = translate({"name": "w", "tasks": tasks}, task_defs("echo"))
    assert any(fragment in message for _, message in errors(diagnostics)), errors(diagnostics)


def test_dynamic_fork_max_concurrency_comes_from_concurrent_exec_limit_under_the_cap() -> None:
    workflow = {
        "name": "w",
        "tasks": [
            simple("plan", name="planner"),
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"dynamicTasks": "${plan.output.dynamicTasks}"},
                "dynamicForkTasksParam": "dynamicTasks",
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN"},
        ],
    }
    options = TranslatorOptions(dynamic_fork_targets={"w.f": ("echo",)})
    asl, diagnostics = translate(
        workflow, task_defs("echo", "planner", concurrentExecLimit=5), options=options
    )
    assert not errors(diagnostics)
    assert asl["States"]["f"]["MaxConcurrency"] == 5
    assert asl["States"]["f"]["ItemsPath"] == "$.tasks.plan.output.dynamicForkItems"
    assert any("dynamicForkItems" in d.message for d in diagnostics)
    asl, _ = translate(workflow, task_defs("echo", "planner", concurrentExecLimit=500), options=options)
    assert asl["States"]["f"]["MaxConcurrency"] == TranslatorOptions().max_concurrency_cap


def test_workflow_timeout_becomes_top_level_timeout_only_for_time_out_wf() -> None:
    base = {"name": "w", "tasks": [simple("a")], "timeoutSeconds": 600}
    asl, _ = translate({**base, "timeoutPolicy": "TIME_OUT_WF"}, task_defs("echo"))
    assert asl["TimeoutSeconds"] == 600
    asl, diagnostics = translate({**base, "timeoutPolicy": "ALERT_ONLY"}, task_defs("echo"))
    assert "TimeoutSeconds" not in asl
    assert any(d.location == "timeoutSeconds" for d in diagnostics)


def test_state_names_are_unique_and_short_in_the_whole_machine() -> None:
    long_ref = "r" * 100
    asl, _ = translate(
        {
            "name": "w",
            "tasks": [
                simple(long_ref, v="${workflow.input.a.b}"),
                simple("next", v=f"${{{long_ref}.output.x.y}}"),
            ],
        },
        task_defs("echo"),
    )
    names: list[str] = []

    def collect(container: dict[str, Any]) -> None:
        for name, state in container["States"].items():
            names.append(name)
            for branch in state.get("Branches", []):
                collect(branch)
            if "ItemProcessor" in state:
                collect(state["ItemProcessor"])

    collect(asl)
    assert len(names) == len(set(names))
    assert max(len(n) for n in names) <= 80


def test_optional_sub_workflow_and_inline_option_share_the_child_translation() -> None:
    child = WorkflowDef.model_validate({"name": "child", "tasks": [simple("c")]})
    parent = {
        "name": "parent",
        "tasks": [
            {
                "name": "child",
                "taskReferenceName": "k",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "child"},
            }
        ],
    }
    asl, _ = translate(parent, task_defs("echo"), {"child": child})
    assert asl["States"]["k"]["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert asl["States"]["k"]["Parameters"]["StateMachineArn"] == "${StateMachineArn_child}"
    inlined, _ = translate(
        parent, task_defs("echo"), {"child": child}, TranslatorOptions(inline_sub_workflows=True)
    )
    assert inlined["States"]["k"]["Type"] == "Parallel"
    assert "${StateMachineArn_child}" not in str(inlined)


def test_terminate_completed_inside_a_fork_branch_is_carried_out_of_the_parallel() -> None:
    """Executed in test_fork_terminate.py; here the shape: the outermost Parallel catches it."""
    terminate = {
        "name": "t",
        "taskReferenceName": "stop",
        "type": "TERMINATE",
        "inputParameters": {"terminationStatus": "COMPLETED"},
    }
    fork = {
        "name": "f",
        "taskReferenceName": "f",
        "type": "FORK_JOIN",
        "forkTasks": [[terminate], [simple("a")]],
    }
    join = {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["a"]}
    asl, diagnostics = translate({"name": "w", "tasks": [fork, join]}, task_defs("echo"))
    assert not errors(diagnostics)
    [catch] = asl["States"]["f"]["Catch"]
    assert catch["ErrorEquals"] == ["Conductor.TerminatedCompleted"]
    assert asl["States"][catch["Next"]]["End"] is True


def script_loop(condition: str) -> dict[str, Any]:
    return {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "inputParameters": {"a": 1},
        "loopCondition": condition,
        "loopOver": [simple("body")],
    }


def test_a_loop_without_a_condition_is_refused() -> None:
    _, diagnostics = translate({"name": "w", "tasks": [script_loop("")]}, task_defs("echo"))
    [(location, message)] = errors(diagnostics)
    assert location == "tasks[0].loopCondition"
    assert "not in the translated JavaScript subset" in message


@pytest.mark.parametrize(
    "condition",
    [
        "$.loop['iteration'] < Math.max(1, 2)",  # not in the lark subset
        "$.nobody['x'] < 3",  # names nothing the Choice could read (undefined in JavaScript)
        "$.a > 1 ? true : false",
        "$.names.length > 'x'",
    ],
)
def test_loop_conditions_outside_the_subset_are_evaluated_by_the_worker(condition: str) -> None:
    asl, diagnostics = translate({"name": "w", "tasks": [script_loop(condition)]}, task_defs("echo"))
    assert not errors(diagnostics)
    state = asl["States"]["loop: condition"]
    assert state["Parameters"]["FunctionName"] == "${LambdaArn_javascript_evaluator}"
    assert state["Parameters"]["Payload"]["script"] == condition
    # $ as Conductor binds it: the loop's inputs, the loop's output, each body task's output
    assert state["Parameters"]["Payload"]["input"] == {
        "a.$": "$.tasks.loop.input.a",
        "loop.$": "$.tasks.loop.output",
        "body.$": "$.tasks.body.output",
    }
    assert state["Next"] == "loop: again?"


def test_loop_condition_becomes_choice_rules() -> None:
    loop = {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "inputParameters": {"limit": 5},
        "loopCondition": "if ($.loop['iteration'] < $.limit && $.body['done'] == false) "
        "{ true; } else { false; }",
        "loopOver": [simple("body")],
    }
    asl, diagnostics = translate({"name": "w", "tasks": [loop]}, task_defs("echo"))
    assert not errors(diagnostics)
    [rule] = asl["States"]["loop: again?"]["Choices"]
    iteration, limit = "$.tasks.loop.output.iteration", "$.tasks.loop.input.limit"
    assert rule["Next"] == "loop: count"
    [compared, done] = rule["And"]
    assert {"Variable": iteration, "NumericLessThanPath": limit} in compared["Or"][0]["And"]
    assert {"Variable": iteration, "StringLessThanPath": limit} in compared["Or"][1]["And"]
    assert done["And"] == [
        {"Variable": "$.tasks.body.output.done", "IsBoolean": True},
        {"Variable": "$.tasks.body.output.done", "BooleanEquals": False},
    ]
    assert asl["States"]["loop: count"]["Next"] == "body"  # the counter moves on before the body runs


def test_child_workflow_names_must_fit_a_placeholder() -> None:
    child = WorkflowDef.model_validate({"name": "my-child", "tasks": [simple("c")]})
    parent = {
        "name": "parent",
        "tasks": [
            {
                "name": "c",
                "taskReferenceName": "k",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "my-child"},
            }
        ],
    }
    _, diagnostics = translate(parent, task_defs("echo"), {"my-child": child})
    [(location, message)] = errors(diagnostics)
    assert location == "tasks[0].subWorkflowParam.name"
    assert "placeholder" in message
