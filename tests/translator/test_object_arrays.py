"""An array whose expressions are all inside its objects (`"renditions": [{"width": "${...}"}]`,
an LLM task's `messages`) executed in moto: each object resolved as Conductor resolves it; an array
mixing bare expressions with objects is built by intrinsic functions, exactly, or refused by name."""

from __future__ import annotations

from typing import Any

from tests.translator.harness import run_translated, task_defs, translate


def echo(event: Any, _context: Any) -> Any:
    return {"received": event}


def definition(array: list[Any]) -> dict[str, Any]:
    task = {"name": "echo", "taskReferenceName": "e", "inputParameters": {"renditions": array}}
    return {"name": "arrays", "tasks": [task], "outputParameters": {"got": "${e.output.received.renditions}"}}


def test_objects_in_an_array_resolve_their_expressions_beside_literal_items() -> None:
    array = [
        {"width": "${workflow.input.w}", "format": "jpg", "crop": {"h": "${workflow.input.h}"}},
        {
            "label": "w=${workflow.input.w}",
            "sizes": ["${workflow.input.w}", 2],
            "absent": "${workflow.input.x}",
        },
        "literal",
        7,
        ["nested", "x"],
    ]
    [execution] = run_translated(definition(array), [{"w": 640, "h": 480}], task_defs("echo"), {"echo": echo})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {
        "got": [
            {"width": 640, "format": "jpg", "crop": {"h": 480}},
            {"label": "w=640", "sizes": [640, 2], "absent": None},  # a missing value is Conductor's null
            "literal",
            7,
            ["nested", "x"],
        ]
    }


def test_a_bare_expression_beside_objects_and_arrays_gives_conductors_array() -> None:
    tricky = {"quote": 'it\'s "{x}" \\ done', "n": 1.5, "list": [1, {"k": None}]}
    array = [
        "${workflow.input.w}",
        {"h": "${workflow.input.h}", "lit": "a'b{c}", "deep": {"v": "${workflow.input.v}"}},
        ["${workflow.input.w}", {"same": "${workflow.input.h}"}],
        {"absent": "${workflow.input.missing}", "none": None},
        {"constant": "$${not an expression}", "k'ey": [True]},
        "id-${workflow.input.w}",
    ]
    [execution] = run_translated(
        definition(array), [{"w": 640, "h": "tall", "v": tricky}], task_defs("echo"), {"echo": echo}
    )
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {
        "got": [
            640,
            {"h": "tall", "lit": "a'b{c}", "deep": {"v": tricky}},
            [640, {"same": "tall"}],
            {"absent": None, "none": None},  # a missing value is Conductor's null
            {"constant": "${not an expression}", "k'ey": [True]},
            "id-640",
        ]
    }


def test_text_around_an_expression_inside_an_object_of_such_an_array_is_refused_by_name() -> None:
    _, diagnostics = translate(
        definition(["${workflow.input.w}", {"label": "w=${workflow.input.w}"}]), task_defs("echo")
    )
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[0].inputParameters.renditions[1].label"
    assert "text built around an expression" in error.message
