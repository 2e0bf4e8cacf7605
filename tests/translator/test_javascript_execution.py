"""INLINE, LAMBDA and the JavaScript conditions outside the lark subset, translated and run in moto
with the javascript_evaluator worker (lambdas/javascript_evaluator) as the Lambda."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.translator.script_evaluation import JAVASCRIPT_WORKER
from tests.translator.harness import Execution, engine
from tests.translator.test_system_tasks_execution import accepted, echo, refusals, simple, system

pytestmark = pytest.mark.slow


def run(definition: dict[str, Any], payload: Any) -> Execution:
    from lambdas.javascript_evaluator.handler import handler

    with engine() as runtime:
        runtime.function(JAVASCRIPT_WORKER, handler)
        runtime.function("echo", echo)
        runtime.deploy(definition["name"], json.dumps(accepted(definition)))
        return runtime.run(definition["name"], payload)


@pytest.fixture(autouse=True)
def _no_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


# --- INLINE ---------------------------------------------------------------------------------------
def test_inline_javascript_binds_the_resolved_input_and_outputs_result() -> None:
    # Conductor's documented example, with the value from the workflow input
    script = (
        "function e() { if ($.value == 1) { return {result: true} } else { return {result: false} } } e();"
    )
    definition = {
        "name": "inline",
        "tasks": [
            system(
                "INLINE",
                "decide",
                value="${workflow.input.value}",
                evaluatorType="javascript",
                expression=script,
            ),
            simple("t", got="${decide.output.result.result}"),
        ],
        "outputParameters": {"decide": "${decide.output}", "t": "${t.output.received}"},
    }
    one = run(definition, {"value": 1})
    assert one.status == "SUCCEEDED", one.cause
    assert one.output == {"decide": {"result": {"result": True}}, "t": {"got": True}}
    two = run(definition, {"value": 2})
    assert two.output["decide"] == {"result": {"result": False}}


def test_inline_sees_evaluator_type_and_expression_in_dollar_as_conductor_binds_them() -> None:
    definition = {
        "name": "inline_keys",
        "tasks": [
            system(
                "INLINE",
                "keys",
                n="${workflow.input.n}",
                evaluatorType="graaljs",
                expression="[Object.keys($).sort(), $.evaluatorType, $.n * 2]",
            )
        ],
    }
    result = run(definition, {"n": 21})
    assert result.status == "SUCCEEDED", result.cause
    # no outputParameters: the workflow output is the last task's output
    assert result.output == {"result": [["evaluatorType", "expression", "n"], "graaljs", 42]}


def test_a_failing_script_fails_the_workflow_once_with_a_typed_error_naming_the_task() -> None:
    definition = {
        "name": "inline_fails",
        "tasks": [system("INLINE", "broken", evaluatorType="javascript", expression="$.missing.field")],
    }
    result = run(definition, {})
    assert result.status == "FAILED"
    assert result.error == "ScriptError"
    assert "broken.inputParameters.expression" in (result.cause or "")
    assert "TypeError" in (result.cause or "")
    assert result.count("TaskFailed") == 1  # deterministic: not retried


def test_an_optional_inline_task_that_fails_lets_the_workflow_go_on() -> None:
    task = system("INLINE", "maybe", evaluatorType="javascript", expression="throw new Error('no')")
    definition = {
        "name": "inline_optional",
        "tasks": [task | {"optional": True}, simple("after", ok=True)],
        "outputParameters": {"after": "${after.output.received}"},
    }
    result = run(definition, {})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"after": {"ok": True}}


def test_inline_value_param_is_a_pass_state_reading_the_named_input() -> None:
    definition = {
        "name": "inline_value",
        "tasks": [
            system(
                "INLINE",
                "pick",
                evaluatorType="value-param",
                expression="chosen",
                chosen="${workflow.input.x}",
            )
        ],
        "outputParameters": {"pick": "${pick.output}"},
    }
    asl = accepted(definition)
    assert not any(s.get("Type") == "Task" for s in asl["States"].values())
    result = run(definition, {"x": {"deep": [1, 2]}})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"pick": {"result": {"deep": [1, 2]}}}


def test_inline_refusals_name_the_task_and_field() -> None:
    no_script = {"name": "a", "tasks": [system("INLINE", "x", evaluatorType="javascript")]}
    python = {"name": "b", "tasks": [system("INLINE", "y", evaluatorType="python", expression="1")]}
    assert refusals(no_script) == [
        ("tasks[0].inputParameters.expression", "INLINE 'x' has no expression: Conductor fails such a task")
    ]
    ((location, message),) = refusals(python)
    assert location == "tasks[0].inputParameters.evaluatorType"
    assert "'python'" in message


# --- LAMBDA ---------------------------------------------------------------------------------------
def test_lambda_wraps_the_script_in_a_function_as_conductor_does() -> None:
    definition = {
        "name": "lambda_task",
        "tasks": [
            system(
                "LAMBDA",
                "calc",
                input="${workflow.input}",
                scriptExpression="if ($.input.a == 1) { return {testvalue: true} } "
                "else { return {testvalue: false} }",
            ),
            system(
                "LAMBDA", "minus", index="${workflow.input.index}", scriptExpression="return $.index - 1;"
            ),
        ],
        "outputParameters": {"calc": "${calc.output.result}", "minus": "${minus.output.result}"},
    }
    result = run(definition, {"a": 1, "index": 5})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"calc": {"testvalue": True}, "minus": 4}


def test_lambda_without_a_script_is_refused_by_name() -> None:
    assert refusals({"name": "c", "tasks": [system("LAMBDA", "z")]}) == [
        (
            "tasks[0].inputParameters.scriptExpression",
            "LAMBDA 'z' has no scriptExpression: Conductor fails such a task",
        )
    ]


# --- conditions the lark subset does not cover ----------------------------------------------------
def routed(kind: str, expression: str, cases: list[str]) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": "route",
        "taskReferenceName": "route",
        "type": kind,
        "inputParameters": {
            "availableActions": "${workflow.input.available}",
            "requestedAction": "${workflow.input.requested}",
        },
        "decisionCases": {case: [simple(f"run_{case}", case=case)] for case in cases},
        "defaultCase": [simple("run_default", case="default")],
    }
    if kind == "SWITCH":
        task |= {"evaluatorType": "javascript", "expression": expression}
    else:
        task["caseExpression"] = expression
    ran = [f"${{run_{case}.output.received.case}}" for case in [*cases, "default"]]
    return {
        "name": f"routed_{kind.lower()}",
        "tasks": [task],
        "outputParameters": {"route": "${route.output}", "ran": ran},
    }


def test_a_decision_script_from_conductors_tests_selects_its_case() -> None:
    # conductor-oss's json_jq_transform_result_integration_test.json
    expression = 'if ($.availableActions.indexOf($.requestedAction) >= 0) { "true" } else { "false" }'
    definition = routed("DECISION", expression, ["true", "false"])
    yes = run(definition, {"available": ["a", "b"], "requested": "b"})
    assert yes.status == "SUCCEEDED", yes.cause
    assert yes.output == {"route": {"caseOutput": ["true"]}, "ran": ["true", None, None]}
    no = run(definition, {"available": ["a"], "requested": "z"})
    assert no.output == {"route": {"caseOutput": ["false"]}, "ran": [None, "false", None]}


@pytest.mark.parametrize(
    ("payload", "case", "ran"),
    [({"available": ["x", "y"], "requested": "y"}, "2", ["2", None, None]),  # a number matches its text
     ({"available": [], "requested": "y"}, "null", [None, "null", None]),  # null selects case "null"
     ({"available": ["x"], "requested": "x"}, "1", [None, None, "default"])],
)  # fmt: skip
def test_a_switch_script_value_is_compared_with_the_case_names_as_conductor_does(
    payload: dict[str, Any], case: str, ran: list[Any]
) -> None:
    expression = "$.availableActions.length ? $.availableActions.indexOf($.requestedAction) + 1 : null"
    result = run(routed("SWITCH", expression, ["2", "null"]), payload)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"route": {"evaluationResult": [case], "selectedCase": case}, "ran": ran}


def loop(condition: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": "loop_script",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "inputParameters": inputs,
                "loopCondition": condition,
                "loopOver": [simple("body", n="${loop.output.iteration}")],
            }
        ],
        "outputParameters": {"iterations": "${loop.output.iteration}", "last": "${body.output.received.n}"},
    }


@pytest.mark.parametrize(("limit", "iterations"), [(3, 3), (7, 5), (0, 1)])
def test_a_loop_condition_outside_the_subset_sees_the_loop_its_body_and_its_inputs(
    limit: int, iterations: int
) -> None:
    condition = "$.loop['iteration'] < Math.min($.limit, 5) && $.body.received.n == $.loop.iteration"
    result = run(loop(condition, limit="${workflow.input.limit}"), {"limit": limit})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"iterations": iterations, "last": iterations}


@pytest.mark.parametrize(
    ("condition", "iterations"),
    [("Math.max(0, 3 - $.loop.iteration)", 3),  # a number: true while above 0
     ("'yes'.substring(0, 3 - $.loop.iteration)", 1)],  # a string is false (ScriptEvaluator.toBoolean)
)  # fmt: skip
def test_a_loop_condition_value_is_true_as_conductor_reads_it(condition: str, iterations: int) -> None:
    result = run(loop(condition), {})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["iterations"] == iterations


def test_a_loop_condition_that_throws_fails_the_workflow_naming_the_loop() -> None:
    result = run(loop("$.nothing.here > 1"), {})
    assert result.status == "FAILED"
    assert result.error == "ScriptError"
    assert "loop.loopCondition" in (result.cause or "")


def test_inline_with_expressions_spliced_into_its_text_runs_the_text_conductor_splices() -> None:
    """do_while_cleanup_demo's form: `${...}.length` on a list. Each value is spliced in its Java
    string form (a list `[1, 2, 3]`, a map `{a=1}`, null `null`, a double `2.5`), `$${` is a literal
    `${`, and `$.expression` holds the spliced text, as in Conductor's task input."""
    text = (
        "[${workflow.input.list}.length, '${workflow.input.map}', '${workflow.input.missing}', "
        "${workflow.input.half} * 2, '$${x}', $.expression.length]"
    )
    spliced = system("INLINE", "splice", evaluatorType="javascript", expression=text)
    definition = {"name": "spliced", "tasks": [spliced]}
    result = run(definition, {"list": [1, 2, 3], "map": {"a": 1, "b": [True, None]}, "half": 2.5})
    assert result.status == "SUCCEEDED", result.cause
    expected_text = (
        "[[1, 2, 3].length, '{a=1, b=[true, null]}', 'null', 2.5 * 2, '${x}', $.expression.length]"
    )
    assert result.output == {"result": [3, "{a=1, b=[true, null]}", "null", 5, "${x}", len(expected_text)]}


def test_a_spliced_value_that_is_not_javascript_fails_as_on_conductor() -> None:
    """A list of strings splices as `[a, b]`: the script reads undefined names and fails."""
    spliced = system(
        "INLINE", "splice", evaluatorType="javascript", expression="${workflow.input.list}.length"
    )
    result = run({"name": "spliced_names", "tasks": [spliced]}, {"list": ["a", "b"]})
    assert (result.status, result.error) == ("FAILED", "ScriptError")
    assert "ReferenceError: a is not defined" in (result.cause or "")


def test_a_whole_map_spliced_into_the_text_is_refused_by_name() -> None:
    """Conductor holds a task's output as a HashMap: its key order in the text is not the JSON's."""
    spliced = system("INLINE", "splice", evaluatorType="javascript", expression="'${workflow.input}'")
    ((location, message),) = refusals({"name": "d", "tasks": [spliced]})
    assert location == "tasks[0].inputParameters.expression"
    assert "HashMap" in message


def test_inline_whose_whole_expression_is_an_input_runs_that_script() -> None:
    definition = {
        "name": "inline_given",
        "tasks": [
            system("INLINE", "given", evaluatorType="javascript", expression="${workflow.input.code}", k=3)
        ],
    }
    result = run(definition, {"code": "$.k * 7"})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"result": 21}


def test_script_tasks_and_evaluated_conditions_pass_the_state_machine_schema() -> None:
    from tests.translator.harness import task_defs, translate
    from tests.translator.test_system_tasks_execution import assert_schema_valid

    inline = system("INLINE", "i", evaluatorType="javascript", expression="$.n + 1", n=1)
    lambda_task = system("LAMBDA", "l", scriptExpression="return 1;")
    value = system("INLINE", "v", evaluatorType="value-param", expression="n", n=2)
    assert_schema_valid(
        {
            "tasks": translate({"name": "tasks", "tasks": [inline, lambda_task, value]}, task_defs("echo")),
            "switch": translate(
                routed("SWITCH", "$.availableActions.indexOf('x')", ["0"]), task_defs("echo")
            ),
            "loop": translate(loop("Math.max(0, 3 - $.loop.iteration)"), task_defs("echo")),
        }
    )


# --- INLINE forked by a dynamic fork -------------------------------------------------------------
def inline_fork(inputs: Any) -> dict[str, Any]:
    fork = system(
        "FORK_JOIN_DYNAMIC", "fan", forkTaskName="calc", forkTaskType="INLINE", forkTaskInputs=inputs
    )
    return {
        "name": "inline_fork",
        "tasks": [fork, {"name": "join", "taskReferenceName": "fan_join", "type": "JOIN"}],
        "outputParameters": {"joined": "${fan_join.output}"},
    }


def test_a_dynamic_fork_of_inline_tasks_runs_each_items_expression_with_the_item_as_its_input() -> None:
    items = [
        {"evaluatorType": "javascript", "expression": "$.n * 10 + $.__index", "n": 4},
        {"evaluatorType": "graaljs", "expression": "$.n + 1", "n": 1},
        {"evaluatorType": "value-param", "expression": "n", "n": "named"},
    ]
    result = run(inline_fork("${workflow.input.items}"), {"items": items})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "joined": {"_calc_0": {"result": 40}, "_calc_1": {"result": 2}, "_calc_2": {"result": "named"}}
    }


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"id": 1, "value": "task1"}, "Empty 'evaluatorType'"),  # do_while_timeline_ui_demo's items
        ({"evaluatorType": "python", "expression": "1"}, "Unknown evaluator 'python'"),
        ({"evaluatorType": "javascript"}, "Empty 'expression'"),
    ],
)
def test_an_inline_item_without_an_evaluator_or_expression_fails_as_inline_java(
    item: Any, problem: str
) -> None:
    result = run(inline_fork("${workflow.input.items}"), {"items": [item]})
    assert (result.status, result.error) == ("FAILED", "ScriptError")
    assert problem in (result.cause or "")
