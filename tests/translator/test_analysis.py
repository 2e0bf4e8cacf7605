"""The analysis of a workflow (statemachines.translator.analysis): every expression resolved once,
its findings reported once, and emission reading the resolved values back by location."""

from __future__ import annotations

from typing import Any

import pytest

from statemachines.translator.analysis import analyse
from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.expressions import Literal, Path
from statemachines.translator.model import WorkflowDef
from statemachines.translator.options import TranslatorOptions
from tests.translator.harness import task_defs, translate


def simple(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": "echo", "taskReferenceName": ref, "inputParameters": inputs}


def analysed(definition: dict[str, Any]) -> tuple[Any, Diagnostics]:
    diagnostics = Diagnostics(definition["name"])
    workflow = WorkflowDef.model_validate(definition)
    return analyse(workflow, task_defs("echo"), TranslatorOptions(), diagnostics), diagnostics


def test_a_value_emitted_twice_is_reported_once() -> None:
    """`first`'s input is kept (another task reads it) and sent to its worker: two states carry
    the same Parameters, whose finding is one warning."""
    definition = {
        "name": "twice",
        "tasks": [
            simple("first", id="${workflow.correlationId}"),
            simple("second", seen="${first.input.id}"),
        ],
    }
    asl, diagnostics = translate(definition, task_defs("echo"))
    states = [s for s in asl["States"].values() if s.get("Parameters", {}).get("id", "absent") is None]
    assert len(states) >= 1
    assert [d.location for d in diagnostics if "correlationId" in d.message] == [
        "tasks[0].inputParameters.id"
    ]


def test_resolved_values_are_read_from_their_views() -> None:
    """`second` reads `first.output` whole and `first.output.x`: `x` is read from its view (so
    `first`'s own output never gains the key), and the analysis gives emission the located path."""
    second = simple("second", x="${first.output.x}", whole="${first.output}")
    definition = {"name": "views", "tasks": [simple("first"), second]}
    analysis, diagnostics = analysed(definition)
    assert not diagnostics.items
    assert ("tasks", "first", "output", "x") in analysis.views
    x = analysis.resolved["tasks[1].inputParameters.x"]
    assert isinstance(x, Path)
    assert x.asl == "$.tasks.first.reads.output_x"
    assert analysis.parameters(second["inputParameters"], "tasks[1].inputParameters") == {
        "x.$": "$.tasks.first.reads.output_x",
        "whole.$": "$.tasks.first.output",
    }


def test_literals_need_no_analysis_and_an_expression_not_analysed_is_refused_loudly() -> None:
    analysis, _ = analysed({"name": "lits", "tasks": [simple("first", a="${workflow.input.a}")]})
    assert analysis.value("plain $${text}", "nowhere") == Literal("plain ${text}")
    assert analysis.value({"k": "${workflow.input.a}"}, "nowhere") == Literal({"k": "${workflow.input.a}"})
    with pytest.raises(KeyError, match="did not resolve"):
        analysis.value("${workflow.input.a}", "tasks[0].inputParameters.b")


def test_a_sub_workflow_name_expression_reports_its_findings() -> None:
    """The name is resolved by the analysis like every other value: its warning is reported (the
    name reads null, and a null name is refused by the SUB_WORKFLOW)."""
    definition = {
        "name": "parent",
        "tasks": [
            {
                "name": "child",
                "taskReferenceName": "child",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "${workflow.correlationId}"},
            }
        ],
    }
    _, diagnostics = translate(definition, task_defs("echo"))
    assert [(d.severity, d.location) for d in diagnostics] == [
        ("warning", "tasks[0].subWorkflowParam.name"),
        ("error", "tasks[0].subWorkflowParam.name"),
    ]
