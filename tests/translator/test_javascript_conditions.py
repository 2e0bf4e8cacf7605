"""Conductor's JavaScript conditions (DO_WHILE loopCondition, SWITCH javascript, DECISION
caseExpression) parsed by the lark grammar and executed by moto: the rule Conductor's evaluator
would apply, or a refusal naming what is not translated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.translator.conditions import ConditionError, case_rules, choice_rule
from tests.translator.harness import engine, task_defs, translate

pytestmark = pytest.mark.slow


def echo(event: Any, _context: Any) -> Any:
    return {"received": event}


def simple(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": "echo", "taskReferenceName": ref, "type": "SIMPLE", "inputParameters": inputs}


def run(definition: dict[str, Any], payload: Any) -> Any:
    asl, diagnostics = translate(definition, task_defs("echo"))
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    with engine() as runtime:
        runtime.function("echo", echo)
        runtime.deploy(definition["name"], json.dumps(asl))
        result = runtime.run(definition["name"], payload)
    assert result.status == "SUCCEEDED", result.cause
    return result


def plain(segments: list[str]) -> str:
    return "$." + ".".join(segments)


# --- the grammar ---------------------------------------------------------------------------------
def typed(check: str, variable: str, **comparison: Any) -> list[dict[str, Any]]:
    return [{"Variable": variable, check: True}, {"Variable": variable, **comparison}]


def test_precedence_parentheses_and_negation_follow_javascript() -> None:
    # && binds tighter than ||; parentheses regroup; ! applies to the comparison that follows
    assert choice_rule("$.a > 1 || $.b < 2 && $.c == 'x'", plain) == {
        "Or": [
            {"And": typed("IsNumeric", "$.a", NumericGreaterThan=1)},
            {
                "And": [
                    {"And": typed("IsNumeric", "$.b", NumericLessThan=2)},
                    {"And": typed("IsString", "$.c", StringEquals="x")},
                ]
            },
        ]
    }
    assert choice_rule("($.a > 1 || $.b < 2) && !($.c === null)", plain) == {
        "And": [
            {
                "Or": [
                    {"And": typed("IsNumeric", "$.a", NumericGreaterThan=1)},
                    {"And": typed("IsNumeric", "$.b", NumericLessThan=2)},
                ]
            },
            {"Not": {"Variable": "$.c", "IsNull": True}},
        ]
    }
    assert choice_rule("$.list.length == 2", plain) == {
        "And": [
            {"Variable": "$.list[1]", "IsPresent": True},
            {"Not": {"Variable": "$.list[2]", "IsPresent": True}},
        ]
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("$.a.indexOf('x') > 0", "not in the translated JavaScript subset"),
     ("$.a > 1 ? 'x' : 'y'", "?: is only translated"), ("true", "constant"),
     ("$.a == $.b.length", ".length can only be compared with a whole number"),
     ("$.a < true", "only be compared for equality"),
     ("$.s = 3", "not in the translated JavaScript subset"), ("'a\\'b' == $.x", "not in the translated")],
)  # fmt: skip
def test_javascript_outside_the_subset_is_refused_saying_what(text: str, fragment: str) -> None:
    with pytest.raises(ConditionError) as raised:
        choice_rule(text, plain)
    assert fragment in str(raised.value)


def test_switch_expressions_are_ordered_cases() -> None:
    pairs, otherwise = case_rules("$.n > 10 ? 'big' : $.n > 2 ? 7 : false", plain)
    assert pairs == [
        ({"And": typed("IsNumeric", "$.n", NumericGreaterThan=10)}, "big"),
        ({"And": typed("IsNumeric", "$.n", NumericGreaterThan=2)}, 7),
    ]
    assert otherwise is False
    assert case_rules("$.ok", plain)[1] is False


# --- executed ------------------------------------------------------------------------------------
LOOP = {
    "name": "loop_js",
    "tasks": [
        {
            "name": "loop",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "inputParameters": {
                "limit": "${workflow.input.limit}",
                "items": "${workflow.input.items}",
                "stop": "${workflow.input.stop}",
            },
            "loopCondition": "if (($.loop['iteration'] < $.limit || $.items.length > 5) "
            "&& $.loop['iteration'] < 4 && !$.stop) { true; } else { false; }",
            "loopOver": [simple("body", n="${loop.output.iteration}")],
        }
    ],
    "outputParameters": {"iterations": "${loop.output.iteration}", "last": "${body.output.received.n}"},
}


@pytest.mark.parametrize(
    ("payload", "iterations"),
    [({"limit": 3, "items": [1, 2], "stop": False}, 3),
     ({"limit": 1, "items": [1, 2, 3, 4, 5, 6]}, 4),  # .length > 5 keeps it going; missing stop is falsy
     ({"limit": 5, "items": [], "stop": True}, 1),
     ({"limit": 5, "items": [], "stop": 0}, 4),  # 0 is falsy too
     ({"limit": 5, "items": [], "stop": "yes"}, 1)],
)  # fmt: skip
def test_a_mixed_loop_condition_runs_as_javascript_would(payload: dict[str, Any], iterations: int) -> None:
    result = run(LOOP, payload)
    assert result.output == {"iterations": iterations, "last": iterations}


def switch_workflow(kind: str) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": "route",
        "taskReferenceName": "route",
        "type": kind,
        "inputParameters": {"size": "${workflow.input.size}", "format": "${workflow.input.format}"},
        "decisionCases": {
            "large": [simple("shrink", why="large")],
            "lossless": [simple("keep", why="lossless")],
        },
        "defaultCase": [simple("other", why="default")],
    }
    expression = "$.size > 1000 ? 'large' : ($.format == 'png' || $.format == 'gif') ? 'lossless' : 'other'"
    if kind == "SWITCH":
        task |= {"evaluatorType": "javascript", "expression": expression}
    else:
        task["caseExpression"] = expression
    return {
        "name": f"route_{kind.lower()}",
        "tasks": [task],
        "outputParameters": {
            "route": "${route.output}",
            "ran": [
                "${shrink.output.received.why}",
                "${keep.output.received.why}",
                "${other.output.received.why}",
            ],
        },
    }


@pytest.mark.parametrize(
    ("payload", "case", "ran"),
    [({"size": 4000, "format": "png"}, "large", ["large", None, None]),
     ({"size": 10, "format": "gif"}, "lossless", [None, "lossless", None]),
     ({"size": 10, "format": "jpg"}, "other", [None, None, "default"]),
     ({"format": "webp"}, "other", [None, None, "default"])],  # a missing size compares false
)  # fmt: skip
def test_javascript_switch_selects_the_case_its_expression_names(
    payload: dict[str, Any], case: str, ran: list[Any]
) -> None:
    result = run(switch_workflow("SWITCH"), payload)
    assert result.output == {"route": {"evaluationResult": [case], "selectedCase": case}, "ran": ran}


def test_decision_case_expression_selects_the_same_way() -> None:
    result = run(switch_workflow("DECISION"), {"size": 10, "format": "png"})
    assert result.output == {"route": {"caseOutput": ["lossless"]}, "ran": [None, "lossless", None]}


def test_a_switch_expression_outside_the_subset_goes_to_the_evaluator_worker() -> None:
    """The subset stays a Choice (no Lambda); anything else is a Task state invoking the worker
    (tests/translator/test_javascript_execution.py runs it)."""
    inside, _ = translate(switch_workflow("SWITCH"), task_defs("echo"))
    assert "javascript_evaluator" not in json.dumps(inside)
    definition = switch_workflow("SWITCH")
    definition["tasks"][0]["expression"] = "$.size.toString()"
    outside, diagnostics = translate(definition, task_defs("echo"))
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    state = outside["States"]["route"]
    assert state["Type"] == "Task"
    assert state["Parameters"]["Payload"]["script"] == "$.size.toString()"
    assert state["Parameters"]["Payload"]["field"] == "expression"


def test_a_switch_without_an_expression_is_still_refused_at_its_location() -> None:
    definition = switch_workflow("SWITCH")
    definition["tasks"][0]["expression"] = "  "
    _, diagnostics = translate(definition, task_defs("echo"))
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[0].expression"
    assert "SWITCH 'route'" in error.message


def test_javascript_switches_and_loops_pass_the_state_machine_schema() -> None:
    from tests.translator.test_system_tasks_execution import assert_schema_valid

    assert_schema_valid(
        {
            "switch": translate(switch_workflow("SWITCH"), task_defs("echo")),
            "decision": translate(switch_workflow("DECISION"), task_defs("echo")),
            "loop": translate(LOOP, task_defs("echo")),
        }
    )
