"""Conductor `${...}` expressions to JSONPath values."""

from __future__ import annotations

import pytest

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.expressions import Literal, Path, Scope, parameters, string_value


@pytest.fixture
def scope() -> Scope:
    return Scope("wf", 3, frozenset({"resize_ref", "up-load"}), Diagnostics("wf"))


def resolve(scope: Scope, text: str):
    return string_value(text, "tasks[0].inputParameters.x", scope.resolve)


def test_whole_expression_is_a_path_that_keeps_the_json_type(scope: Scope) -> None:
    assert resolve(scope, "${workflow.input.recipe.outputSize.width}") == Path(
        "$.workflow.input.recipe.outputSize.width", ("workflow", "input", "recipe", "outputSize", "width")
    )
    assert resolve(scope, "${resize_ref.output.fileLocation}").asl == "$.tasks.resize_ref.output.fileLocation"
    assert resolve(scope, "${resize_ref.input.fileLocation}").asl == "$.tasks.resize_ref.input.fileLocation"
    assert scope.inputs_read == {"resize_ref"}


def test_array_index_is_kept_and_only_the_part_before_it_is_ensured(scope: Scope) -> None:
    value = resolve(scope, "${resize_ref.output.items[2].name}")
    assert value == Path(
        "$.tasks.resize_ref.output.items[2].name", ("tasks", "resize_ref", "output", "items")
    )


def test_non_identifier_names_use_bracket_notation(scope: Scope) -> None:
    assert resolve(scope, "${up-load.output.s3Url}").asl == "$.tasks['up-load'].output.s3Url"


def test_embedded_expressions_become_states_format_with_escaped_literals(scope: Scope) -> None:
    value = resolve(scope, "it's {x}: ${workflow.input.a}-${resize_ref.output.b}")
    assert value == Path(
        "States.Format('it\\'s \\{x\\}: {}-{}', $.workflow.input.a, $.tasks.resize_ref.output.b)"
    )


def test_escaped_dollar_is_a_literal(scope: Scope) -> None:
    assert resolve(scope, "cost: $${workflow.input.a}") == Literal("cost: ${workflow.input.a}")
    assert resolve(scope, "plain text") == Literal("plain text")


def test_workflow_attributes(scope: Scope) -> None:
    assert resolve(scope, "${workflow.workflowId}") == Path("$$.Execution.Name")
    assert resolve(scope, "${workflow.workflowType}") == Literal("wf")
    assert resolve(scope, "${workflow.version}") == Literal(3)
    assert resolve(scope, "id-${workflow.workflowType}-${workflow.workflowId}") == Path(
        "States.Format('id-wf-{}', $$.Execution.Name)"
    )


def test_unknown_reference_is_an_error_with_its_location(scope: Scope) -> None:
    assert resolve(scope, "${image_toS3_ref.output.fileLocation}") is None
    [error] = scope.diagnostics.errors
    assert error.location == "tasks[0].inputParameters.x"
    assert "image_toS3_ref" in error.message


@pytest.mark.parametrize(
    "text", ["${resize_ref.status}", "${workflow.output.x}", "${resize_ref.output..x}", "${workflow}"]
)
def test_untranslatable_expressions_are_errors(scope: Scope, text: str) -> None:
    assert resolve(scope, text) is None
    assert len(scope.diagnostics.errors) == 1


def test_parameters_nest_objects_and_turn_arrays_with_expressions_into_states_array(scope: Scope) -> None:
    result = parameters(
        {
            "a": "${workflow.input.a}",
            "nested": {"b": "${resize_ref.output.b}", "lit": 1},
            "sizes": [300, "${workflow.input.w}", "x", None, True],
            "static": [{"k": "v"}],
        },
        "tasks[0].inputParameters",
        scope.resolve,
        scope.diagnostics,
    )
    assert result == {
        "a.$": "$.workflow.input.a",
        "nested": {"b.$": "$.tasks.resize_ref.output.b", "lit": 1},
        "sizes.$": "States.Array(300, $.workflow.input.w, 'x', null, true)",
        "static": [{"k": "v"}],
    }


def test_an_array_mixing_a_bare_expression_and_objects_is_built_by_intrinsic_functions(scope: Scope) -> None:
    written = parameters(
        {"mixed": ["${workflow.input.a}", {"k": "x'{y}"}, {"v": "${workflow.input.b}"}]},
        "p",
        scope.resolve,
        scope.diagnostics,
    )
    assert not scope.diagnostics.errors
    assert written == {
        "mixed.$": 'States.Array($.workflow.input.a, States.StringToJson(\'\\{"k": "x\\\'\\{y\\}"\\}\'), '
        "States.StringToJson(States.Format('\\{\"v\": {}\\}', States.JsonToString($.workflow.input.b))))"
    }


def test_an_array_with_expressions_only_inside_its_objects_is_written_as_parameters(scope: Scope) -> None:
    written = parameters({"ok": [{"k": "${workflow.input.a}"}, "x"]}, "p", scope.resolve, scope.diagnostics)
    assert not scope.diagnostics.errors
    assert written == {"ok": [{"k.$": "$.workflow.input.a"}, "x"]}


@pytest.mark.parametrize(
    "text",
    [
        "${resize_ref.output.items.length()}",
        "${workflow.input.list[?(@.size > 1)]}",
        "${workflow.input.items[*].name}",
        "${workflow.input.*}",
    ],
)
def test_jsonpath_functions_filters_and_wildcards_are_refused_by_name(scope: Scope, text: str) -> None:
    assert resolve(scope, text) is None
    [error] = scope.diagnostics.errors
    assert text[2:-1] in error.message
    assert "JSONPath function, filter or wildcard" in error.message


def test_a_nested_expression_is_refused_with_the_whole_value(scope: Scope) -> None:
    text = "${workflow.input.${workflow.input.key}}"
    assert parameters({"x": text}, "tasks[0].inputParameters", scope.resolve, scope.diagnostics) == {}
    [error] = scope.diagnostics.errors
    assert error.location == "tasks[0].inputParameters.x"
    assert text in error.message
