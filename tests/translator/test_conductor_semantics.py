"""Constructs whose Conductor result is easy to get subtly wrong, run in moto and compared with what
Conductor OSS computes (SwitchTaskMapper/DecisionTaskMapper, Terminate, DeciderService.
updateWorkflowOutput, ParametersUtils.getTaskInputV2)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from statemachines.translator.model import WorkflowDef
from tests.translator.harness import engine, task_defs, translate
from tests.translator.stubs import InvalidRecipeError, TransientSourceError
from tests.translator.test_constructs_execution import echo, run_one, selector, simple, workflow

pytestmark = pytest.mark.slow


def routing(kind: str, cases: dict[str, list[dict[str, Any]]], output: dict[str, Any]) -> dict[str, Any]:
    return workflow(
        f"routing_{kind.lower()}",
        [
            {
                "name": "route",
                "taskReferenceName": "route_ref",
                "type": kind,
                "inputParameters": {"kind": "${workflow.input.kind}"},
                **selector(kind),
                "decisionCases": cases,
                "defaultCase": [simple("fallback", took="default")],
            }
        ],
        output,
    )


@pytest.mark.parametrize("kind", ["SWITCH", "DECISION"])
def test_a_matched_case_without_tasks_runs_the_default_case(kind: str) -> None:
    definition = routing(
        kind,
        {"empty": [], "full": [simple("chosen", took="full")]},
        {"took": "${fallback.output.received.took}"},
    )
    empty, _ = run_one(definition, {"kind": "empty"}, {"echo": echo})
    full, _ = run_one(definition, {"kind": "full"}, {"echo": echo})
    assert empty.status == "SUCCEEDED", empty.cause
    assert empty.output == {"took": "default"}
    assert full.output == {"took": None}


@pytest.mark.parametrize("kind", ["SWITCH", "DECISION"])
@pytest.mark.parametrize("payload", [{}, {"kind": None}, {"kind": "null"}])
def test_a_missing_or_null_value_selects_the_case_named_null(kind: str, payload: dict[str, Any]) -> None:
    definition = routing(
        kind,
        {"null": [simple("nothing", took="null")], "x": [simple("x", took="x")]},
        {"null": "${nothing.output.received.took}", "default": "${fallback.output.received.took}"},
    )
    result, _ = run_one(definition, payload, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"null": "null", "default": None}


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("SWITCH", "x", {"evaluationResult": ["x"], "selectedCase": "x"}),
        ("SWITCH", 42, {"evaluationResult": ["42"], "selectedCase": "42"}),
        ("SWITCH", "other", {"evaluationResult": ["other"], "selectedCase": "other"}),
        ("DECISION", "x", {"caseOutput": ["x"]}),
        ("DECISION", True, {"caseOutput": ["true"]}),
    ],
)
def test_switch_and_decision_outputs_name_the_evaluated_case(kind: str, value: Any, expected: Any) -> None:
    definition = routing(kind, {"x": [simple("x", took="x")]}, {"route": "${route_ref.output}"})
    result, _ = run_one(definition, {"kind": value}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"route": expected}


def terminating(output: Any, **extra: Any) -> dict[str, Any]:
    parameters: dict[str, Any] = {"terminationStatus": "COMPLETED", **extra}
    if output is not ...:
        parameters["workflowOutput"] = output
    return workflow(
        "terminating",
        [
            simple("first", n="${workflow.input.n}"),
            {
                "name": "stop",
                "taskReferenceName": "stop_ref",
                "type": "TERMINATE",
                "inputParameters": parameters,
            },
            simple("never"),
        ],
        {"ignored": "${first.output}"},
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("${first.output.received}", {"n": 5}),  # a map is the output as it is
        ("${first.output.received.n}", {"output": 5}),  # anything else is wrapped
        ("${workflow.input.word}", {"output": "five"}),
        ("${workflow.input.list}", {"output": [1, 2]}),
        ("n is ${workflow.input.n}", {"output": "n is 5"}),
        (7, {"output": 7}),
        ("${workflow.input.absent}", {}),  # null gives {}: outputParameters are not applied
        (..., {}),
    ],
)
def test_terminate_completed_output_is_what_conductor_computes(output: Any, expected: Any) -> None:
    result, _ = run_one(terminating(output), {"n": 5, "word": "five", "list": [1, 2]}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected
    assert result.count("TaskScheduled") == 1


def test_terminate_without_termination_status_is_refused() -> None:
    definition = terminating(...)
    del definition["tasks"][1]["inputParameters"]["terminationStatus"]
    _, diagnostics = translate(definition, task_defs("echo"))
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[1].inputParameters.terminationStatus"
    assert "stop_ref" in error.message


def test_workflow_attributes_conductor_does_not_have_read_as_null() -> None:
    definition = workflow(
        "attributes",
        [
            {
                "name": "echo",
                "taskReferenceName": "t",
                "type": "SIMPLE",
                "inputParameters": {
                    "name": "${workflow.name}",
                    "started": "${workflow.startTime}",
                    "text": "run-${workflow.name}",
                    "status": "${workflow.status}",
                    "schema": "${workflow.schemaVersion}",
                },
            }
        ],
        {"received": "${t.output.received}"},
    )
    _, diagnostics = translate(definition, task_defs("echo"))
    warned = " ".join(d.message for d in diagnostics if d.severity == "warning")
    assert "'name' is not a workflow attribute" in warned
    assert "'startTime' is not a workflow attribute" in warned
    result, _ = run_one(definition, {}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["received"] == {
        "name": None,
        "started": None,
        "text": "run-null",
        "status": "RUNNING",
        "schema": 2,
    }


def test_do_while_body_sees_iteration_one_first_and_inputs_are_resolved_before_each_check() -> None:
    seen: list[Any] = []

    def counter(event: Any, _context: Any) -> Any:
        seen.append(event["pass"])
        return {"calls": len(seen)}

    definition = workflow(
        "loop_semantics",
        [
            {
                "name": "loop",
                "taskReferenceName": "loop_ref",
                "type": "DO_WHILE",
                # `calls` reads the body's output: Conductor resolves it again before every check
                "inputParameters": {"calls": "${count_ref.output.calls}"},
                "loopCondition": "$.calls < 3",
                "loopOver": [
                    {
                        "name": "counter",
                        "taskReferenceName": "count_ref",
                        "type": "SIMPLE",
                        "inputParameters": {"pass": "${loop_ref.output.iteration}"},
                    }
                ],
            }
        ],
        {"iterations": "${loop_ref.output.iteration}", "calls": "${count_ref.output.calls}"},
    )
    result, _ = run_one(definition, {}, {"counter": counter})
    assert result.status == "SUCCEEDED", result.cause
    assert seen == [1, 2, 3]
    assert result.output == {"iterations": 3, "calls": 3}


def set_variable(ref: str, **values: Any) -> dict[str, Any]:
    return {"name": "set", "taskReferenceName": ref, "type": "SET_VARIABLE", "inputParameters": values}


def test_set_variable_inside_fork_branches_updates_the_workflow_variables_after_the_join() -> None:
    definition = workflow(
        "fork_variables",
        [
            set_variable("before", z=10),
            {
                "name": "fork",
                "taskReferenceName": "fork_ref",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [set_variable("in_a", x=1), simple("a", x="${workflow.variables.x}")],
                    [simple("b", z="${workflow.variables.z}"), set_variable("in_b", y=2)],
                    [simple("c")],
                ],
            },
            {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN", "joinOn": ["a", "in_b", "c"]},
            simple(
                "after", x="${workflow.variables.x}", y="${workflow.variables.y}", z="${workflow.variables.z}"
            ),
        ],
        {"a": "${a.output.received}", "b": "${b.output.received}", "after": "${after.output.received}"},
        variables={"x": 0, "z": 9},
    )
    result, _ = run_one(definition, {}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"a": {"x": 1}, "b": {"z": 10}, "after": {"x": 1, "y": 2, "z": 10}}


def test_without_output_parameters_the_output_is_the_last_task_that_ran() -> None:
    inner = {
        "name": "inner",
        "taskReferenceName": "inner_ref",
        "type": "SWITCH",
        "inputParameters": {"kind": "${workflow.input.inner}"},
        **selector("SWITCH"),
        "decisionCases": {"deep": [simple("deep", at="deep")]},
    }
    definition = routing("SWITCH", {"one": [simple("one", at="one")], "nested": [simple("pre"), inner]}, {})
    definition["outputParameters"] = {}
    runs = {
        "one": {"received": {"at": "one"}},
        "other": {"received": {"took": "default"}},
        "nested": {"received": {"at": "deep"}},
    }
    for kind, expected in runs.items():
        result, _ = run_one(definition, {"kind": kind, "inner": "deep"}, {"echo": echo})
        assert result.status == "SUCCEEDED", result.cause
        assert result.output == expected, kind
    # the inner SWITCH picks no task: it is the last task that ran, so its output is the output
    result, _ = run_one(definition, {"kind": "nested", "inner": "none"}, {"echo": echo})
    assert result.output == {"evaluationResult": ["none"], "selectedCase": "none"}


def test_without_output_parameters_a_final_do_while_outputs_its_last_body_task() -> None:
    definition = workflow(
        "final_loop",
        [
            {
                "name": "loop",
                "taskReferenceName": "loop_ref",
                "type": "DO_WHILE",
                "loopCondition": "$.loop_ref['iteration'] < 2",
                "loopOver": [simple("first", n="${loop_ref.output.iteration}"), simple("second", m=1)],
            }
        ],
    )
    result, _ = run_one(definition, {}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"received": {"m": 1}}


def test_join_output_leaves_out_joined_tasks_whose_output_is_empty() -> None:
    def quiet(_event: Any, _context: Any) -> Any:
        return {}

    branches = [[simple(f"t{i}", name="quiet" if i % 3 == 0 else "echo", i=i)] for i in range(10)]
    definition = workflow(
        "join_empty",
        [
            {"name": "fork", "taskReferenceName": "fork_ref", "type": "FORK_JOIN", "forkTasks": branches},
            {
                "name": "join",
                "taskReferenceName": "join_ref",
                "type": "JOIN",
                "joinOn": [f"t{i}" for i in range(10)],
            },
        ],
        {"joined": "${join_ref.output}"},
    )
    result, _ = run_one(definition, {}, {"echo": echo, "quiet": quiet})
    assert result.status == "SUCCEEDED", result.cause
    # ten joined tasks (two intrinsic groups); t0, t3, t6 and t9 returned {}
    assert result.output == {"joined": {f"t{i}": {"received": {"i": i}} for i in range(10) if i % 3}}


def test_new_form_dynamic_fork_over_a_literal_list_and_a_sub_workflow() -> None:
    child = workflow(
        "child", [simple("inside", got="${workflow.input}")], {"got": "${inside.output.received.got}"}
    )
    parent = workflow(
        "parent",
        [
            {
                "name": "fork",
                "taskReferenceName": "fan",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"forkTaskWorkflow": "child", "forkTaskInputs": [{"a": 1}, 2]},
            },
            {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN"},
        ],
        {"joined": "${join_ref.output}"},
    )
    defs = task_defs("echo")
    child_asl, child_diagnostics = translate(child, defs)
    others = {"child": WorkflowDef.model_validate(child)}
    parent_asl, diagnostics = translate(parent, defs, others)
    assert not [d for d in [*diagnostics, *child_diagnostics] if d.severity == "error"], diagnostics
    with engine() as runtime:
        runtime.function("echo", echo)
        runtime.deploy("child", json.dumps(child_asl))
        runtime.deploy("parent", json.dumps(parent_asl))
        result = runtime.run("parent", {})
    assert result.status == "SUCCEEDED", result.cause
    # no forkTaskName: Conductor names the references after the fork's own reference
    assert result.output == {
        "joined": {"_fan_0": {"got": {"a": 1, "__index": 0}}, "_fan_1": {"got": {"input": 2, "__index": 1}}}
    }


def test_fork_task_fields_outside_input_parameters_are_refused() -> None:
    definition = workflow(
        "misplaced",
        [
            {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN_DYNAMIC", "forkTaskName": "echo"},
            {"name": "j", "taskReferenceName": "j", "type": "JOIN"},
        ],
    )
    _, diagnostics = translate(definition, task_defs("echo"))
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[0].forkTaskName"
    assert "inputParameters" in error.message


# --- task policy (DeciderService.retry/checkTaskTimeout/isResponseTimedOut, MetadataMapperService) ----
def flaky(failures: int) -> tuple[Any, list[Any]]:
    """A worker that fails its first `failures` calls with a retryable error, then answers."""
    calls: list[Any] = []

    def handler(event: Any, _context: Any) -> Any:
        calls.append(event)
        if len(calls) <= failures:
            raise TransientSourceError("busy")
        return {"calls": len(calls)}

    return handler, calls


def silent_first(seconds: float) -> tuple[Any, list[Any]]:
    """A worker whose first attempt stays silent for `seconds` (then the thread ends by itself)."""
    calls: list[Any] = []

    def handler(event: Any, _context: Any) -> Any:
        calls.append(event)
        if len(calls) == 1:
            threading.Event().wait(seconds)
        return {"calls": len(calls)}

    return handler, calls


@pytest.mark.parametrize(
    ("registered", "on_task", "attempts", "status"), [(2, 0, 1, "FAILED"), (1, 4, 4, "SUCCEEDED")]
)
def test_retry_count_on_the_workflow_task_overrides_the_task_definition(
    registered: int, on_task: int, attempts: int, status: str
) -> None:
    handler, calls = flaky(3)
    definition = workflow("task_retries", [{**simple("t", name="flaky"), "retryCount": on_task}])
    result = run_one(definition, {}, {"flaky": handler}, task_defs("flaky", retryCount=registered))[0]
    assert result.status == status, result.cause
    assert len(calls) == attempts
    assert result.count("TaskScheduled") == attempts


def test_an_inline_task_definition_replaces_the_registered_one() -> None:
    """Not merged: the registered retryCount 2 and timeoutSeconds 30 do not apply."""
    handler, calls = silent_first(3)
    inline = {"retryCount": 0, "timeoutSeconds": 1, "responseTimeoutSeconds": 1, "timeoutPolicy": "RETRY"}
    definition = workflow("inline_def", [{**simple("t", name="slow"), "taskDefinition": inline}])
    result = run_one(definition, {}, {"slow": handler}, task_defs("slow"))[0]
    assert result.status == "FAILED"
    assert result.error == "States.Timeout"
    assert len(calls) == 1  # retryCount 0 from the inline definition


def test_a_task_without_definition_runs_under_conductors_default_definition() -> None:
    """new TaskDef(name): retryCount 3 (FIXED 60 s; moto's waits are scaled to zero here)."""
    handler, _ = flaky(3)
    definition = workflow("default_def", [simple("t", name="flaky")], {"calls": "${t.output.calls}"})
    result = run_one(definition, {}, {"flaky": handler}, task_defs("echo"))[0]
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"calls": 4}
    assert result.count("TaskScheduled") == 4
    always, _ = flaky(99)
    result = run_one(definition, {}, {"flaky": always}, task_defs("echo"))[0]
    assert result.status == "FAILED"
    assert result.count("TaskScheduled") == 4  # the first attempt and three retries


@pytest.mark.parametrize("timeout_policy", ["TIME_OUT_WF", "RETRY", "ALERT_ONLY"])
def test_a_silent_attempt_is_retried_after_the_response_timeout_whatever_the_policy(
    timeout_policy: str,
) -> None:
    handler, _ = silent_first(3)
    definition = workflow("silent", [simple("t", name="slow")], {"calls": "${t.output.calls}"})
    defs = task_defs(
        "slow", retryCount=1, timeoutSeconds=30, responseTimeoutSeconds=1, timeoutPolicy=timeout_policy
    )
    result = run_one(definition, {}, {"slow": handler}, defs)[0]
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"calls": 2}
    assert result.count("TaskTimedOut") == 1
    assert result.count("TaskScheduled") == 2


@pytest.mark.parametrize(("timeout_policy", "status"), [("TIME_OUT_WF", "FAILED"), ("RETRY", "SUCCEEDED")])
def test_an_optional_tasks_timeout_under_time_out_wf_still_times_the_workflow_out(
    timeout_policy: str, status: str
) -> None:
    handler, _ = silent_first(3)
    definition = workflow(
        "optional_timeout",
        [{**simple("maybe", name="slow"), "optional": True}, simple("after", name="echo")],
        {"maybe": "${maybe.output}", "after": "${after.output.received}"},
    )
    defs = task_defs("slow", "echo", retryCount=0, timeoutSeconds=1, responseTimeoutSeconds=1)
    defs["slow"] = defs["slow"].model_copy(update={"timeoutPolicy": timeout_policy})
    result = run_one(definition, {}, {"slow": handler, "echo": echo}, defs)[0]
    assert result.status == status, result.cause
    if status == "FAILED":
        assert result.error == "States.Timeout"  # the workflow timed out, as in Conductor
    else:
        assert result.output == {"maybe": {}, "after": {}}  # COMPLETED_WITH_ERRORS, then on


def test_an_optional_tasks_failure_under_time_out_wf_is_still_recorded() -> None:
    """The Catch that spares timeouts (States.TaskFailed) still catches every other error."""

    def invalid(_event: Any, _context: Any) -> Any:
        raise InvalidRecipeError("bad recipe")

    definition = workflow(
        "optional_failure",
        [{**simple("maybe", name="invalid"), "optional": True}, simple("after", name="echo", x=1)],
        {"after": "${after.output.received}"},
    )
    defs = task_defs("invalid", "echo", timeoutSeconds=5, responseTimeoutSeconds=5)
    asl, _ = translate(definition, defs)
    assert asl["States"]["maybe"]["Catch"][0]["ErrorEquals"] == ["States.TaskFailed"]
    result = run_one(definition, {}, {"invalid": invalid, "echo": echo}, defs)[0]
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"after": {"x": 1}}


def test_task_policy_fields_without_equivalent_are_warned_naming_workflow_task_and_field() -> None:
    inline = {"retryCount": 1, "backoffJitterMs": 100, "totalTimeoutSeconds": 600}
    definition = workflow(
        "unmapped",
        [
            {**simple("t", name="echo"), "taskDefinition": inline, "permissive": True, "startDelay": 5},
            simple("u", name="other"),
        ],
    )
    defs = task_defs("echo", "other", pollTimeoutSeconds=10, rateLimitPerFrequency=5, concurrentExecLimit=2)
    _, diagnostics = translate(definition, defs)
    warned = {(d.workflow, d.location) for d in diagnostics if d.severity == "warning"}
    assert {
        ("unmapped", "tasks[0].taskDefinition.backoffJitterMs"),
        ("unmapped", "tasks[0].taskDefinition.totalTimeoutSeconds"),
        ("unmapped", "tasks[0].permissive"),
        ("unmapped", "tasks[0].startDelay"),
        ("unmapped", "taskDefs.other.pollTimeoutSeconds"),
        ("unmapped", "taskDefs.other.rateLimitPerFrequency"),
    } <= warned
    # the inline definition replaced the registered one: its fields are not reported for task t
    assert ("unmapped", "taskDefs.echo.pollTimeoutSeconds") not in warned


# --- missing paths: null in the reading task's input, never a key of the task's own output ----------
def test_a_missing_path_reads_as_null_without_adding_keys_to_the_tasks_output() -> None:
    definition = workflow(
        "null_reads",
        [
            simple("first", n=1),
            simple("second", deep="${first.output.nope.deeper}", absent="${first.output.received.absent}"),
        ],
        {
            "first": "${first.output}",
            "received": "${first.output.received}",
            "deep": "${first.output.nope.deeper}",
            "second": "${second.output.received}",
        },
    )
    result, _ = run_one(definition, {}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "first": {"received": {"n": 1}},  # exactly what the worker returned
        "received": {"n": 1},
        "deep": None,
        "second": {"deep": None, "absent": None},  # the reading task's input has the nulls
    }


def test_a_join_outputs_its_tasks_outputs_as_they_are_when_a_later_task_reads_a_missing_path() -> None:
    definition = workflow(
        "join_null_reads",
        [
            {
                "name": "fork",
                "taskReferenceName": "fork_ref",
                "type": "FORK_JOIN",
                "forkTasks": [[simple("a", x=1)], [simple("b", y=2)]],
            },
            {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN", "joinOn": ["a", "b"]},
            simple("after", missing="${a.output.received.missing}", deeper="${b.output.not.there}"),
        ],
        {"join": "${join_ref.output}", "after": "${after.output.received}"},
    )
    result, _ = run_one(definition, {}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "join": {"a": {"received": {"x": 1}}, "b": {"received": {"y": 2}}},
        "after": {"missing": None, "deeper": None},
    }


@pytest.mark.parametrize(("kind", "ran"), [("run", True), ("skip", False)])
def test_a_task_that_did_not_run_reads_as_null_whole_and_deep(kind: str, ran: bool) -> None:
    definition = routing(
        "SWITCH",
        {"run": [simple("maybe", took="run")]},
        {
            "whole": "${maybe.output}",
            "deep": "${maybe.output.received.took}",
            "deeper": "${maybe.output.a.b}",
        },
    )
    result, _ = run_one(definition, {"kind": kind}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    expected_whole = {"received": {"took": "run"}} if ran else None
    assert result.output == {"whole": expected_whole, "deep": "run" if ran else None, "deeper": None}


def test_views_are_planned_only_where_another_read_sees_through_the_path() -> None:
    """Paths no other read, JOIN or workflow output can see are defaulted in place (no extra state)."""
    from statemachines.translator.read_views import plan_views

    definition = WorkflowDef.model_validate(
        workflow("plan", [simple("t"), simple("u")], {"x": "${t.output.a.b}", "y": "${u.output.c}"})
    )
    leaves = {("tasks", "t", "output", "a", "b"), ("tasks", "u", "output", "c")}
    assert plan_views(definition, leaves) == {}
    seen = plan_views(definition, leaves | {("tasks", "t", "output", "a")})
    assert seen == {("tasks", "t", "output", "a", "b"): "output_a_b"}


def test_the_workflow_input_read_whole_keeps_its_keys_beside_a_missing_path() -> None:
    definition = workflow(
        "input_null_reads",
        [simple("t", size="${workflow.input.options.size}", name_="${workflow.input.label}")],
        {"input": "${workflow.input}", "t": "${t.output.received}"},
    )
    result, _ = run_one(definition, {"label": "cat"}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"input": {"label": "cat"}, "t": {"size": None, "name_": "cat"}}


def test_the_task_definitions_input_template_fills_the_keys_input_parameters_leave_out() -> None:
    """ParametersUtils.getTaskInputV2: template entries `putIfAbsent`, then resolved like the rest."""
    template = {"url": "https://default.example", "size": "${workflow.input.size}", "given": "template"}
    definition = workflow("templated", [simple("t", given="task")], {"received": "${t.output.received}"})
    defs = task_defs("echo")
    defs["echo"] = defs["echo"].model_copy(update={"inputTemplate": template})
    _, diagnostics = translate(definition, defs)
    assert not [d for d in diagnostics if d.location.endswith("inputTemplate")]  # mapped, not warned
    result, _ = run_one(definition, {"size": 5}, {"echo": echo}, defs)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"received": {"given": "task", "url": "https://default.example", "size": 5}}


def test_a_sub_workflow_tasks_own_retry_policy_is_warned_not_dropped() -> None:
    child = workflow("child", [simple("inside")])
    parent = workflow(
        "parent",
        [
            {
                "name": "child",
                "taskReferenceName": "c",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "child"},
                "retryCount": 2,
            }
        ],
    )
    _, diagnostics = translate(parent, task_defs("echo"), {"child": WorkflowDef.model_validate(child)})
    [warning] = [d for d in diagnostics if d.location == "tasks[0].retryCount"]
    assert "retryCount 2" in warning.message
    assert warning.workflow == "parent"
