"""The JavaScript evaluator's core: `$` as Conductor binds it, results as JSON, the sandbox's limits
and the typed, non-retryable errors that name the task and field."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.core.errors import InvalidRecipeError
from lambdas.javascript_evaluator.evaluator import (
    ScriptError,
    ScriptMemoryError,
    ScriptTimeoutError,
    ScriptTooLargeError,
    evaluate,
)
from lambdas.javascript_evaluator.task import evaluate_request
from lambdas.settings import JavaScriptSettings
from tests.support.lambda_context import FakeLambdaContext

SETTINGS = JavaScriptSettings()


def run(script: str, bound: Any = None, settings: JavaScriptSettings = SETTINGS) -> Any:
    return evaluate(script, bound, settings, field="t.inputParameters.expression")


def test_the_last_statement_is_the_result_with_dollar_bound_to_the_input() -> None:
    script = (
        "function e() { if ($.value == 1) { return {result: true} } else { return {result: false} } } e();"
    )
    assert run(script, {"value": 1}) == {"result": True}
    assert run(script, {"value": 2}) == {"result": False}
    assert run("$.a.b * 2 + $.list.length", {"a": {"b": 21}, "list": [1, 2]}) == 44


def test_results_are_json_values_and_undefined_is_null() -> None:
    assert run("({n: 1.5, s: 'x', l: [null, true], o: {}})") == {
        "n": 1.5,
        "s": "x",
        "l": [None, True],
        "o": {},
    }
    assert run("undefined") is None
    assert run("(function () {})") is None
    assert run("'caf\\u00e9'") == "café"


def test_the_java_collection_methods_conductor_scripts_call_are_there_and_invisible() -> None:
    bound = {"list": ["a", "b", "c"], "map": {"k": 1}, "i": 2}
    assert run("$.list.get($.i - 1)", bound) == "b"
    assert run("[$.list.size(), $.list.isEmpty(), $.list.contains('c'), $.list.contains('z')]", bound) == [
        3,
        False,
        True,
        False,
    ]
    assert run("[$.map.containsKey('k'), $.map.containsKey('get'), $.map.get('k'), $.map.size()]", bound) == [
        True,
        False,
        1,
        1,
    ]
    # non-enumerable: JSON, Object.keys and for...in see only the data; an own key wins
    assert run("var keys = []; for (var k in $.map) keys.push(k); [JSON.stringify($), keys]", bound) == [
        '{"list":["a","b","c"],"map":{"k":1},"i":2}',
        ["k"],
    ]
    assert run("({get: 5}).get") == 5


def test_each_evaluation_starts_from_a_fresh_isolate() -> None:
    assert run("var leaked = 42; leaked") == 42
    assert run("typeof leaked") == "undefined"
    assert run("[typeof require, typeof fetch, typeof WebAssembly, typeof process]") == ["undefined"] * 4


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("throw new Error('boom')", "line 1: Error: boom"),
        ("var a = 1;\nnull.x", "line 2: TypeError: Cannot read properties of null (reading 'x')"),
        ("function (", "SyntaxError"),
        ("return 1", "SyntaxError: Illegal return statement"),
        ("10n", "TypeError: Do not know how to serialize a BigInt"),
        ("var a = {}; a.self = a; a", "TypeError: Converting circular structure to JSON"),
    ],
)
def test_a_failing_script_is_a_script_error_naming_the_field(script: str, message: str) -> None:
    with pytest.raises(ScriptError) as raised:
        run(script, {})
    assert raised.value.field == "t.inputParameters.expression"
    assert message in raised.value.problem
    assert not raised.value.retryable


@pytest.mark.parametrize("script", ["", "   ", None, 42])
def test_a_missing_or_blank_script_is_refused(script: Any) -> None:
    with pytest.raises(ScriptError, match="non-empty JavaScript string"):
        run(script)


def test_a_script_past_the_time_limit_is_stopped() -> None:
    with pytest.raises(ScriptTimeoutError, match="ran longer than 200 ms") as raised:
        run("while (true) {}", settings=JavaScriptSettings(javascript_timeout_ms=200))
    assert not raised.value.retryable
    assert (
        run("1 + 1", settings=JavaScriptSettings(javascript_timeout_ms=200)) == 2
    )  # the next one runs as usual


def test_a_script_past_the_heap_limit_is_stopped_and_poisons_nothing_after_it() -> None:
    hog = "var a = []; while (true) { a.push(new Array(100000).fill(1)); }"
    with pytest.raises(ScriptMemoryError, match="more than 16 MB") as raised:
        run(hog, settings=JavaScriptSettings(javascript_max_heap_mb=16))
    assert not raised.value.retryable
    assert run("[1, 2].length") == 2


def test_the_script_and_the_result_have_size_limits() -> None:
    small = JavaScriptSettings(javascript_max_script_chars=20, javascript_max_result_bytes=100)
    with pytest.raises(ScriptTooLargeError, match="21 characters; the limit is 20"):
        run("1 + 1 + 1 + 1 + 1 + 1", settings=small)
    with pytest.raises(ScriptTooLargeError, match="bytes of JSON; the limit is 100"):
        run("'x'.repeat(200)", settings=small)
    assert run("'x'.repeat(10)", settings=small) == "x" * 10


def test_the_request_carries_the_task_and_the_output_is_conductors_result() -> None:
    event = {
        "task": "calc",
        "field": "inputParameters.scriptExpression",
        "script": "$.n + 1",
        "input": {"n": 1},
    }
    assert evaluate_request(event, SETTINGS) == {"result": 2}
    with pytest.raises(ScriptError) as raised:
        evaluate_request({**event, "script": "nope()"}, SETTINGS)
    assert raised.value.field == "calc.inputParameters.scriptExpression"
    assert "ReferenceError: nope is not defined" in raised.value.problem


def test_a_malformed_request_is_a_typed_error_naming_what_is_missing() -> None:
    with pytest.raises(ScriptError) as raised:
        evaluate_request({"task": "calc", "field": "f", "input": {}}, SETTINGS)
    assert raised.value.field == "calc.script"


def test_settings_come_from_the_environment_and_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JAVASCRIPT_TIMEOUT_MS", "250")
    assert JavaScriptSettings.from_env().javascript_timeout_ms == 250
    monkeypatch.setenv("JAVASCRIPT_MAX_HEAP_MB", "-1")
    with pytest.raises(InvalidRecipeError) as raised:
        JavaScriptSettings.from_env()
    assert raised.value.field == "environment.JAVASCRIPT_MAX_HEAP_MB"


def test_the_handler_wears_powertools_and_answers_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    from lambdas.javascript_evaluator.handler import handler

    event = {
        "task": "t",
        "field": "inputParameters.expression",
        "script": "$.x.toUpperCase()",
        "input": {"x": "a"},
    }
    assert handler(event, FakeLambdaContext()) == {"result": "A"}
