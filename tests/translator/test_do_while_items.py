"""DO_WHILE over a list (`items`, Conductor's loopItem/loopIndex), translated and run in moto.

Conductor's semantics (conductor-oss DoWhileTest, list iteration): iteration i (from 1) sees
loopIndex i - 1 and loopItem items[i - 1] in the loop's output; without a loopCondition the loop runs
once per item; an empty or null list completes the loop at once with iteration 0.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.translator.do_while import ITEMS_NOT_A_LIST
from statemachines.translator.script_evaluation import JAVASCRIPT_WORKER
from tests.translator.harness import Execution, engine
from tests.translator.test_system_tasks_execution import accepted, echo, refusals, simple

pytestmark = pytest.mark.slow


def item_loop(body: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "inputParameters": {},
        "items": "${workflow.input.items}",
        "loopOver": body,
        **fields,
    }


ECHO_ITEM = simple("visit", item="${loop.output.loopItem}", index="${loop.output.loopIndex}")


def run(definition: dict[str, Any], payload: Any) -> Execution:
    with engine() as runtime:
        runtime.function("echo", echo)
        runtime.deploy(definition["name"], json.dumps(accepted(definition)))
        return runtime.run(definition["name"], payload)


def visits(execution: Execution) -> list[Any]:
    """The input of every run of the body's echo task, in order."""
    return [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]
        for e in execution.events
        if e["type"] == "TaskScheduled"
    ]


def test_each_item_is_visited_once_in_order_with_its_zero_based_index() -> None:
    items = [{"id": 1}, "two", 3, None]
    definition = {
        "name": "items_in_order",
        "tasks": [item_loop([ECHO_ITEM])],
        "outputParameters": {"loop": "${loop.output}", "last": "${visit.output.received}"},
    }
    result = run(definition, {"items": items})
    assert result.status == "SUCCEEDED", result.cause
    assert visits(result) == [{"item": item, "index": i} for i, item in enumerate(items)]
    # the loop's output after the last pass: Conductor's iteration count and the last item
    assert result.output == {
        "loop": {"iteration": 4, "loopIndex": 3, "loopItem": None},
        "last": {"item": None, "index": 3},
    }


@pytest.mark.parametrize("payload", [{"items": []}, {"items": None}, {}])
def test_an_empty_null_or_missing_list_runs_no_body_task_and_the_loop_ends_with_iteration_0(
    payload: dict[str, Any],
) -> None:
    definition = {"name": "items_empty", "tasks": [item_loop([ECHO_ITEM])]}
    result = run(definition, payload)
    assert result.status == "SUCCEEDED", result.cause
    assert visits(result) == []
    # no outputParameters: the loop ran last, so its output is the workflow's
    assert result.output == {"iteration": 0}


def test_without_output_parameters_the_last_body_task_gives_the_workflow_output() -> None:
    definition = {"name": "items_last", "tasks": [item_loop([ECHO_ITEM])]}
    result = run(definition, {"items": ["a", "b"]})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"received": {"item": "b", "index": 1}}


@pytest.mark.parametrize("items", [{"a": 1}, "[not a list]", 7])
def test_items_that_are_not_a_list_fail_with_a_typed_error_naming_the_loop(items: Any) -> None:
    definition = {"name": "items_bad", "tasks": [item_loop([ECHO_ITEM])]}
    result = run(definition, {"items": items})
    assert result.status == "FAILED"
    assert result.error == ITEMS_NOT_A_LIST
    assert "'loop'" in (result.cause or "")
    assert visits(result) == []


def test_the_list_is_read_before_the_loop_and_later_tasks_still_see_the_last_item() -> None:
    definition = {
        "name": "items_after",
        "tasks": [
            item_loop([ECHO_ITEM]),
            simple("after", iteration="${loop.output.iteration}", item="${loop.output.loopItem}"),
        ],
        "outputParameters": {"after": "${after.output.received}"},
    }
    result = run(definition, {"items": [10, 20, 30]})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"after": {"iteration": 3, "item": 30}}
    empty = run(definition, {"items": []})
    # after an empty list loopItem was never set: it reads as null, as a missing value does
    assert empty.output == {"after": {"iteration": 0, "item": None}}


def test_conductors_own_list_iteration_workflow_runs_its_lambda_once_per_item() -> None:
    from lambdas.javascript_evaluator.handler import handler

    # test-harness/src/test/resources/do_while_list_iteration_integration_test.json, as published
    definition: dict[str, Any] = {
        "name": "do_while_list_iteration",
        "version": 1,
        "tasks": [
            {
                "name": "list_loop",
                "taskReferenceName": "list_loop",
                "inputParameters": {},
                "type": "DO_WHILE",
                "items": "${workflow.input.items}",
                "loopOver": [
                    {
                        "name": "LAMBDA_TASK",
                        "taskReferenceName": "process_item",
                        "inputParameters": {
                            "scriptExpression": "return { processedItem: $.list_loop.loopItem, "
                            "index: $.list_loop.loopIndex }",
                            "list_loop": "${list_loop.output}",
                        },
                        "type": "LAMBDA",
                    }
                ],
            }
        ],
        "inputParameters": ["items"],
        "schemaVersion": 2,
    }
    with engine() as runtime:
        runtime.function(JAVASCRIPT_WORKER, handler)
        runtime.deploy(definition["name"], json.dumps(accepted(definition)))
        result = runtime.run(definition["name"], {"items": ["x", "y", "z"]})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"result": {"processedItem": "z", "index": 2}}
    assert [v["input"]["list_loop"]["loopItem"] for v in visits(result)] == ["x", "y", "z"]


def test_refusals_name_the_field() -> None:
    body_reads = {"name": "r1", "tasks": [item_loop([ECHO_ITEM], items="${visit.output.list}")]}
    assert [loc for loc, _ in refusals(body_reads)] == ["tasks[0].items"]
    literal = {"name": "r2", "tasks": [item_loop([ECHO_ITEM], items="a,b")]}
    assert [loc for loc, _ in refusals(literal)] == ["tasks[0].items"]
    with_condition = {
        "name": "r3",
        "tasks": [item_loop([ECHO_ITEM], loopCondition="$.loopItem < 15")],
    }
    assert [loc for loc, _ in refusals(with_condition)] == ["tasks[0].loopCondition"]
    variables = {
        "name": "r4",
        "tasks": [
            item_loop(
                [
                    ECHO_ITEM,
                    {
                        "name": "s",
                        "taskReferenceName": "s",
                        "type": "SET_VARIABLE",
                        "inputParameters": {"list": [1]},
                    },
                ],
                items="${workflow.variables.list}",
            )
        ],
    }
    assert [loc for loc, _ in refusals(variables)] == ["tasks[0].items"]
