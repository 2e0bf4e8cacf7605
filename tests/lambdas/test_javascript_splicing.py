"""The Java string forms Conductor splices values into a script's text with (Objects.toString of
what Jackson reads JSON into), and the splicing itself."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.javascript_evaluator.evaluator import ScriptError
from lambdas.javascript_evaluator.splicing import java_double, java_string, spliced
from lambdas.javascript_evaluator.task import evaluate_request
from lambdas.settings import JavaScriptSettings


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-7, "-7"),
        (12345678901234567890, "12345678901234567890"),
        ({"a": 1, "b": "x"}, "{a=1, b=x}"),
        ([1, "two", None, [3]], "[1, two, null, [3]]"),
        ({}, "{}"),
        ([], "[]"),
    ],
)
def test_values_splice_in_their_java_string_form(value: Any, text: str) -> None:
    assert java_string(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2.0"),
        (2.5, "2.5"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1234567.5, "1234567.5"),
        (12345678.0, "1.2345678E7"),
        (1e20, "1.0E20"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-1.5e-10, "-1.5E-10"),
    ],
)
def test_doubles_print_as_java_double_to_string(value: float, text: str) -> None:
    assert java_double(value) == text


def test_pieces_surround_the_values_and_double_dollar_unescapes_last() -> None:
    assert spliced(["n = ", " + 1; '$${x}'"], [[1, 2]]) == "n = [1, 2] + 1; '${x}'"
    with pytest.raises(ValueError, match="2 pieces cannot surround 2 values"):
        spliced(["a", "b"], [1, 2])


def test_a_spliced_request_binds_the_spliced_text_as_the_expression_input() -> None:
    event = {
        "task": "calc",
        "field": "inputParameters.expression",
        "splice": {
            "pieces": ["", ".length + $.expression.length"],
            "values": {"0": [1, 2]},
            "into": "expression",
        },
        "input": {"evaluatorType": "javascript"},
    }
    assert evaluate_request(event, JavaScriptSettings()) == {
        "result": 2 + len("[1, 2].length + $.expression.length")
    }


@pytest.mark.parametrize(
    "change",
    [{"script": "1"}, {"splice": {"pieces": ["", ""], "values": {"1": 0}}}],
    ids=["both a script and a splice", "values not keyed 0, 1, ..."],
)
def test_a_malformed_splice_is_a_typed_error(change: dict[str, Any]) -> None:
    event = {"task": "calc", "field": "f", "splice": {"pieces": ["1"], "values": {}}, "input": {}} | change
    with pytest.raises(ScriptError):
        evaluate_request(event, JavaScriptSettings())
