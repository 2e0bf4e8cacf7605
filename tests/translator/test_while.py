"""WHILE translated and run in moto: Conductor's While.execute checks the condition before the first
pass (iteration 0), then after each pass, as DO_WHILE does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.translator.script_evaluation import JAVASCRIPT_WORKER
from tests.translator.harness import Execution, engine
from tests.translator.test_system_tasks_execution import accepted, echo, refusals, simple

pytestmark = pytest.mark.slow


def while_loop(condition: str, body: list[dict[str, Any]], **inputs: Any) -> dict[str, Any]:
    return {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "WHILE",
        "inputParameters": inputs,
        "loopCondition": condition,
        "loopOver": body,
    }


COUNTED = "if ($.loop['iteration'] < $.value) { true; } else { false; }"
BODY = simple("body", n="${loop.output.iteration}")


def run(definition: dict[str, Any], payload: Any) -> Execution:
    from lambdas.javascript_evaluator.handler import handler

    with engine() as runtime:
        runtime.function("echo", echo)
        runtime.function(JAVASCRIPT_WORKER, handler)
        runtime.deploy(definition["name"], json.dumps(accepted(definition)))
        return runtime.run(definition["name"], payload)


def passes(execution: Execution) -> list[Any]:
    """The iteration number each run of the body's echo task saw (not the evaluator's runs)."""
    scheduled = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in execution.events
        if e["type"] == "TaskScheduled"
    ]
    return [p["Payload"]["n"] for p in scheduled if p["FunctionName"].endswith(":fn-echo")]


@pytest.mark.parametrize(("value", "expected"), [(3, [1, 2, 3]), (1, [1]), (0, [])])
def test_the_condition_is_checked_before_the_first_pass(value: int, expected: list[int]) -> None:
    definition = {
        "name": "while_counted",
        "tasks": [while_loop(COUNTED, [BODY], value="${workflow.input.loop}")],
        "outputParameters": {"iteration": "${loop.output.iteration}"},
    }
    result = run(definition, {"loop": value})
    assert result.status == "SUCCEEDED", result.cause
    assert passes(result) == expected
    # While: iteration 0 when the condition is false at once, else the last pass's number
    assert result.output == {"iteration": len(expected)}


def test_without_output_parameters_a_loop_that_never_ran_gives_its_own_output() -> None:
    definition = {
        "name": "while_last",
        "tasks": [while_loop(COUNTED, [BODY], value="${workflow.input.loop}")],
    }
    never = run(definition, {"loop": 0})
    assert never.status == "SUCCEEDED", never.cause
    assert never.output == {"iteration": 0}
    twice = run(definition, {"loop": 2})
    assert twice.output == {"received": {"n": 2}}


def test_a_condition_run_by_the_evaluator_is_checked_first_too() -> None:
    # Conductor's while_set_variable_fix condition: `.length` compared with a path is run in V8
    condition = "if ( $.list && $.loop['iteration'] < $.list.length ) { true; } else { false; } "
    definition = {
        "name": "while_evaluated",
        "tasks": [while_loop(condition, [BODY], list="${workflow.input.list}")],
    }
    three = run(definition, {"list": ["a", "b", "c"]})
    assert three.status == "SUCCEEDED", three.cause
    assert passes(three) == [1, 2, 3]
    empty = run(definition, {})
    assert empty.status == "SUCCEEDED", empty.cause
    assert empty.output == {"iteration": 0}


def test_refusals_name_the_field() -> None:
    reads_body = {
        "name": "w1",
        "tasks": [while_loop("$.body.received.n < 3", [BODY])],
    }
    assert [loc for loc, _ in refusals(reads_body)] == ["tasks[0].loopCondition"]
    task_id = {"name": "w2", "tasks": [while_loop(COUNTED, [BODY], value="${CPEWF_TASK_ID}")]}
    assert "tasks[0].inputParameters" in [loc for loc, _ in refusals(task_id)]


def test_a_loop_ending_in_a_switch_outputs_the_last_task_that_ran_in_its_last_pass() -> None:
    # Conductor's While_with_Decision_task shape: no outputParameters, the body ends with a SWITCH
    switch = {
        "name": "pick",
        "taskReferenceName": "pick",
        "type": "SWITCH",
        "evaluatorType": "value-param",
        "expression": "which",
        "inputParameters": {"which": "${workflow.input.which}"},
        "decisionCases": {
            "big": [simple("big", route="big", n="${loop.output.iteration}")],
            "small": [simple("small", route="small", n="${loop.output.iteration}")],
        },
    }
    definition = {
        "name": "while_switch",
        "tasks": [while_loop(COUNTED, [BODY, switch], value="${workflow.input.loop}")],
    }
    big = run(definition, {"loop": 2, "which": "big"})
    assert big.status == "SUCCEEDED", big.cause
    assert big.output == {"received": {"route": "big", "n": 2}}
    small = run(definition, {"loop": 3, "which": "small"})
    assert small.output == {"received": {"route": "small", "n": 3}}
    # no case matches and defaultCase is empty: the SWITCH ran last, its own output is the workflow's
    other = run(definition, {"loop": 2, "which": "other"})
    assert other.status == "SUCCEEDED", other.cause
    assert other.output == {"evaluationResult": ["other"], "selectedCase": "other"}
    never = run(definition, {"loop": 0, "which": "big"})
    assert never.output == {"iteration": 0}
