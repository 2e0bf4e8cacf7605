"""Each translated construct, executed by moto's Step Functions engine with stub workers, produces
what Conductor would: joins, switches, terminate, retries counted in the history, optional tasks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imgpipe.local.lambda_seam import lambda_service_error
from statemachines.translator import TranslatorOptions
from statemachines.translator.model import WorkflowDef
from tests.translator.harness import engine, run_translated, task_defs, translate
from tests.translator.stubs import InvalidRecipeError, TransientSourceError

pytestmark = pytest.mark.slow


def echo(event: Any, _context: Any) -> Any:
    return {"received": event}


def simple(ref: str, name: str = "echo", **inputs: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", "inputParameters": inputs}


def workflow(name: str, tasks: list[dict[str, Any]], output: dict[str, Any] | None = None, **extra: Any):
    return {"name": name, "tasks": tasks, "outputParameters": output or {}, **extra}


def run_one(
    definition: dict[str, Any],
    payload: Any,
    workers: dict[str, Any],
    defs: dict[str, Any] | None = None,
    **defs_overrides: Any,
):
    """Runs `definition`; task definitions are `defs` exactly, or else one per worker."""
    defs = defs if defs is not None else task_defs(*workers, **defs_overrides)
    [execution] = run_translated(definition, [payload], defs, workers)
    return execution, None


def test_expressions_keep_types_format_strings_and_escape_literals() -> None:
    definition = workflow(
        "expressions",
        [
            simple(
                "t",
                whole="${workflow.input.size}",
                nested={
                    "list": ["${workflow.input.size}", "x", 3],
                    "obj": {"deep": "${workflow.input.name}"},
                },
                text="s3://bucket/${workflow.input.name}/${workflow.input.size}.png",
                literal="$${workflow.input.name} {braces} 'quote'",
                missing="${workflow.input.not.there}",
                workflowType="${workflow.workflowType}",
            )
        ],
        {"result": "${t.output.received}", "id": "${workflow.workflowId}"},
    )
    result, _ = run_one(definition, {"size": 300, "name": "cat's"}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    received = result.output["result"]
    assert received["whole"] == 300
    assert received["nested"] == {"list": [300, "x", 3], "obj": {"deep": "cat's"}}
    assert received["text"] == "s3://bucket/cat's/300.png"
    assert received["literal"] == "${workflow.input.name} {braces} 'quote'"
    assert received["missing"] is None
    assert received["workflowType"] == "expressions"
    assert isinstance(result.output["id"], str)
    assert len(result.output["id"]) > 0


def test_task_input_and_missing_output_fields_read_as_null() -> None:
    definition = workflow(
        "refs",
        [
            simple("first", value="${workflow.input.v}"),
            simple("second", a="${first.input.value}", b="${first.output.nope.deeper}"),
        ],
        {"second": "${second.output.received}", "absent": "${first.output.also.missing}"},
    )
    result, _ = run_one(definition, {"v": [1, 2]}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"second": {"a": [1, 2], "b": None}, "absent": None}


def test_input_template_supplies_defaults_under_the_input() -> None:
    definition = workflow(
        "template",
        [simple("t", a="${workflow.input.a}", b="${workflow.input.b}")],
        {"r": "${t.output.received}"},
        inputTemplate={"a": "default-a", "b": "default-b"},
    )
    result, _ = run_one(definition, {"a": "given"}, {"echo": echo})
    assert result.output == {"r": {"a": "given", "b": "default-b"}}


def test_retryable_worker_error_is_retried_and_counted_in_history() -> None:
    calls = []

    def flaky(event, _context):
        calls.append(event)
        if len(calls) <= 2:
            raise TransientSourceError("source busy")
        return {"ok": True}

    definition = workflow("retries", [simple("t", name="flaky")], {"ok": "${t.output.ok}"})
    result, _ = run_one(definition, {}, {"flaky": flaky}, retryCount=3, retryDelaySeconds=60)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"ok": True}
    assert result.count("TaskFailed") == 2
    assert result.count("TaskScheduled") == 3


def test_retries_stop_after_retry_count_with_the_worker_error_name() -> None:
    def always(_event, _context):
        raise TransientSourceError("still busy")

    definition = workflow("exhausted", [simple("t", name="always")])
    result, _ = run_one(definition, {}, {"always": always}, retryCount=2)
    assert result.status == "FAILED"
    assert result.error == "TransientSourceError"
    assert result.count("TaskScheduled") == 3  # 1 + retryCount


def test_non_retryable_worker_error_fails_at_once() -> None:
    def invalid(_event, _context):
        raise InvalidRecipeError("outputWidth: must be positive")

    definition = workflow("permanent", [simple("t", name="invalid")])
    result, _ = run_one(definition, {}, {"invalid": invalid}, retryCount=3)
    assert result.status == "FAILED"
    assert result.error == "InvalidRecipeError"
    assert "outputWidth" in result.cause
    assert result.count("TaskScheduled") == 1


def test_lambda_service_errors_are_retried_even_with_retry_count_zero() -> None:
    definition = workflow("throttled", [simple("t")], {"r": "${t.output.received}"})
    defs = task_defs("echo", retryCount=0)
    asl, _ = translate(definition, defs)
    with engine() as runtime:
        runtime.function("echo", echo)
        throttles: list[str] = []

        def throttle_once(name, event):
            if not throttles:
                throttles.append(name)
                raise lambda_service_error("TooManyRequestsException", "Rate exceeded", 429)

        runtime.router.fault_injector = throttle_once
        runtime.deploy("throttled", json.dumps(asl))
        result = runtime.run("throttled", {})
    assert result.status == "SUCCEEDED", result.cause
    assert throttles == ["fn-echo"]
    assert result.count("TaskScheduled") == 2


def test_optional_task_failure_is_recorded_and_the_workflow_goes_on() -> None:
    def invalid(_event, _context):
        raise InvalidRecipeError("bad recipe")

    definition = workflow(
        "optional",
        [
            {**simple("maybe", name="invalid"), "optional": True},
            simple("after", previous="${maybe.output.fileLocation}"),
        ],
        {"after": "${after.output.received}"},
    )
    result, _ = run_one(definition, {}, {"invalid": invalid, "echo": echo}, retryCount=2)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"after": {"previous": None}}
    assert result.count("TaskScheduled") == 2  # non-retryable: once, then the next task
    passes = [e for e in result.events if e["type"] == "PassStateExited"]
    recorded = [
        json.loads(e["stateExitedEventDetails"]["output"])["tasks"]["maybe"]
        for e in passes
        if e["stateExitedEventDetails"]["name"] == "maybe: completed with errors"
    ]
    assert recorded[0]["status"] == "COMPLETED_WITH_ERRORS"
    assert recorded[0]["error"] == "InvalidRecipeError"


def fork_workflow() -> dict[str, Any]:
    return workflow(
        "fork",
        [
            {
                "name": "fork",
                "taskReferenceName": "fork_ref",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [simple("a1", n=1), simple("a2", prev="${a1.output.received.n}")],
                    [simple("b1", n=2)],
                ],
            },
            {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN", "joinOn": ["a2", "b1"]},
            simple("after", a="${a2.output.received.prev}", b="${b1.output.received.n}"),
        ],
        {"join": "${join_ref.output}", "after": "${after.output.received}"},
    )


def test_fork_join_output_is_keyed_by_reference_name() -> None:
    result, _ = run_one(fork_workflow(), {}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["join"] == {"a2": {"received": {"prev": 1}}, "b1": {"received": {"n": 2}}}
    assert result.output["after"] == {"a": 1, "b": 2}


def selector(kind: str) -> dict[str, Any]:
    """How a SWITCH (value-param) or a DECISION names the input it routes on: `kind`."""
    if kind == "SWITCH":
        return {"evaluatorType": "value-param", "expression": "kind"}
    return {"caseValueParam": "kind"}


def switch_workflow(kind: str = "SWITCH") -> dict[str, Any]:
    return workflow(
        f"switch_{kind.lower()}",
        [
            {
                "name": "route",
                "taskReferenceName": "route_ref",
                "type": kind,
                "inputParameters": {"kind": "${workflow.input.kind}"},
                **selector(kind),
                "decisionCases": {
                    "thumb": [simple("thumb", size=100)],
                    "7": [simple("seven", size=7)],
                    "stop": [
                        {
                            "name": "terminate",
                            "taskReferenceName": "stop_ref",
                            "type": "TERMINATE",
                            "inputParameters": {
                                "terminationStatus": "FAILED",
                                "terminationReason": "asked to stop: ${workflow.input.why}",
                            },
                        }
                    ],
                    "done": [
                        {
                            "name": "terminate",
                            "taskReferenceName": "done_ref",
                            "type": "TERMINATE",
                            "inputParameters": {
                                "terminationStatus": "COMPLETED",
                                "workflowOutput": {"finished": "${workflow.input.kind}"},
                            },
                        }
                    ],
                },
                "defaultCase": [simple("other", size=0)],
            },
            simple("after", last=True),
        ],
        {
            "thumb": "${thumb.output.received.size}",
            "seven": "${seven.output.received.size}",
            "other": "${other.output.received.size}",
        },
    )


@pytest.mark.parametrize("kind", ["SWITCH", "DECISION"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("thumb", {"thumb": 100, "seven": None, "other": None}),
        (7, {"thumb": None, "seven": 7, "other": None}),
        ("7", {"thumb": None, "seven": 7, "other": None}),
        ("unknown", {"thumb": None, "seven": None, "other": 0}),
        (None, {"thumb": None, "seven": None, "other": 0}),
    ],
)
def test_switch_routes_by_value_with_default(kind, value, expected) -> None:
    payload = {} if value is None else {"kind": value}
    result, _ = run_one(switch_workflow(kind), payload, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


def test_terminate_failed_fails_the_execution_with_the_reason() -> None:
    result, _ = run_one(switch_workflow(), {"kind": "stop", "why": "quota"}, {"echo": echo})
    assert result.status == "FAILED"
    assert result.error == "Conductor.FAILED"
    assert result.cause == "asked to stop: quota"


def test_terminate_completed_outputs_workflow_output() -> None:
    result, _ = run_one(switch_workflow(), {"kind": "done"}, {"echo": echo})
    assert result.status == "SUCCEEDED"
    assert result.output == {"finished": "done"}
    assert result.count("TaskScheduled") == 0


def test_wait_and_set_variable() -> None:
    definition = workflow(
        "vars",
        [
            {
                "name": "wait",
                "taskReferenceName": "pause",
                "type": "WAIT",
                "inputParameters": {"duration": "2 seconds"},
            },
            {
                "name": "set",
                "taskReferenceName": "set_ref",
                "type": "SET_VARIABLE",
                "inputParameters": {"size": "${workflow.input.size}", "label": "size-${workflow.input.size}"},
            },
            simple(
                "t",
                size="${workflow.variables.size}",
                label="${workflow.variables.label}",
                keep="${workflow.variables.keep}",
            ),
        ],
        {"r": "${t.output.received}"},
        variables={"keep": "initial"},
    )
    result, _ = run_one(definition, {"size": 64}, {"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"r": {"size": 64, "label": "size-64", "keep": "initial"}}
    assert result.count("WaitStateEntered") == 1


def test_new_form_dynamic_fork_runs_fork_task_name_over_inputs() -> None:
    definition = workflow(
        "newfork",
        [
            simple("plan", name="planner"),
            {
                "name": "fork",
                "taskReferenceName": "fork_ref",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"forkTaskName": "echo", "forkTaskInputs": "${plan.output.items}"},
            },
            {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN"},
        ],
        {"joined": "${join_ref.output}"},
    )

    def planner(_event, _context):
        return {"items": [{"n": 1}, "two", [3]]}

    result, _ = run_one(definition, {}, {"planner": planner, "echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    # Conductor's references `_<forkTaskName>_<index>`; an object item gets `__index`, any other value
    # becomes {"input": value, "__index": i}
    assert result.output["joined"] == {
        "_echo_0": {"received": {"n": 1, "__index": 0}},
        "_echo_1": {"received": {"input": "two", "__index": 1}},
        "_echo_2": {"received": {"input": [3], "__index": 2}},
    }


def test_dynamic_fork_item_naming_an_unknown_task_fails_clearly() -> None:
    definition = workflow(
        "unknownitem",
        [
            simple("plan", name="planner"),
            {
                "name": "fork",
                "taskReferenceName": "fork_ref",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"dynamicTasks": "${plan.output.dynamicTasks}"},
                "dynamicForkTasksParam": "dynamicTasks",
            },
            {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN"},
        ],
    )

    def planner(_event, _context):
        return {
            "dynamicForkItems": [{"taskReferenceName": "x", "name": "rm_rf", "type": "SIMPLE", "input": {}}]
        }

    result, _ = run_one(definition, {}, {"planner": planner, "echo": echo})
    assert result.status == "FAILED"
    assert result.error == "DynamicForkUnknownTask"
    assert "known: echo, planner" in result.cause


def sub_workflow_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    child = workflow("child", [simple("c", v="${workflow.input.v}")], {"got": "${c.output.received.v}"})
    parent = workflow(
        "parent",
        [
            {
                "name": "child",
                "taskReferenceName": "child_ref",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "child", "version": 1},
                "inputParameters": {"v": "${workflow.input.v}"},
            },
            simple("after", fromChild="${child_ref.output.got}"),
        ],
        {"after": "${after.output.received}"},
    )
    return parent, child


@pytest.mark.parametrize("inline", [False, True])
def test_sub_workflow_output_is_the_child_output(inline: bool) -> None:
    parent, child = sub_workflow_pair()
    defs = task_defs("echo")
    models = {"child": WorkflowDef.model_validate(child)}
    options = TranslatorOptions(inline_sub_workflows=inline)
    parent_asl, diagnostics = translate(parent, defs, models, options)
    assert not [d for d in diagnostics if d.severity == "error"]
    child_asl, _ = translate(child, defs)
    with engine() as runtime:
        runtime.function("echo", echo)
        runtime.deploy("child", json.dumps(child_asl))
        runtime.deploy("parent", json.dumps(parent_asl))
        result = runtime.run("parent", {"v": "value"})
        children = runtime.client.list_executions(stateMachineArn=runtime.arns["child"])["executions"]
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"after": {"fromChild": "value"}}
    assert len(children) == (0 if inline else 1)


def loop_workflow(condition: str) -> dict[str, Any]:
    return workflow(
        "loop",
        [
            {
                "name": "loop",
                "taskReferenceName": "loop_ref",
                "type": "DO_WHILE",
                "inputParameters": {"times": "${workflow.input.times}"},
                "loopCondition": condition,
                "loopOver": [simple("count_ref", name="counter")],
            }
        ],
        {"iterations": "${loop_ref.output.iteration}", "last": "${count_ref.output.calls}"},
    )


@pytest.mark.parametrize(
    "condition",
    [
        "if ($.loop_ref['iteration'] < $.times) { true; } else { false; }",
        "$.loop_ref['iteration'] < $.times && $.count_ref['calls'] != 99",
    ],
)
def test_do_while_runs_the_body_until_the_condition_fails(condition: str) -> None:
    calls: list[Any] = []

    def counter(_event, _context):
        calls.append(1)
        return {"calls": len(calls)}

    result, _ = run_one(loop_workflow(condition), {"times": 3}, {"counter": counter})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"iterations": 3, "last": 3}


def test_do_while_body_runs_at_least_once() -> None:
    result, _ = run_one(
        loop_workflow("$.loop_ref['iteration'] < 0"), {"times": 0}, {"counter": lambda e, c: {"calls": 1}}
    )
    assert result.output == {"iterations": 1, "last": 1}


@pytest.mark.parametrize(("policy", "attempts"), [("TIME_OUT_WF", 1), ("RETRY", 2)])
def test_task_timeout_follows_the_timeout_policy(policy: str, attempts: int) -> None:
    import threading

    def stuck(_event, _context):
        threading.Event().wait(3)  # longer than TimeoutSeconds; the thread ends by itself
        return {}

    definition = workflow("timeout", [simple("t", name="stuck")])
    result, _ = run_one(
        definition, {}, {"stuck": stuck}, timeoutSeconds=1, timeoutPolicy=policy, retryCount=1
    )
    assert result.status == "FAILED"
    assert result.error == "States.Timeout"
    assert result.count("TaskScheduled") == attempts
