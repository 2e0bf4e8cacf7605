"""The coverage benchmark counts what it says: translated workflows, refusals by category (a refused
sub-workflow's parent included), other JSON apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.translation_coverage import measure


def task(ref: str, kind: str = "SIMPLE", **extra: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": kind, **extra}


def test_the_benchmark_counts_translations_and_refusals_by_category(tmp_path: Path) -> None:
    documents = {
        "plain.json": {"name": "plain", "tasks": [task("a")]},
        "script.json": {
            "name": "script",
            "tasks": [task("s", "LAMBDA", inputParameters={"scriptExpression": "1"})],
        },
        "parent.json": {
            "name": "parent",
            "tasks": [task("p", "SUB_WORKFLOW", subWorkflowParam={"name": "agent"})],
        },
        "inline.json": {
            "name": "inline",
            "tasks": [
                task(
                    "i",
                    "SUB_WORKFLOW",
                    subWorkflowParam={"name": "x", "workflowDefinition": {"name": "x", "tasks": [task("b")]}},
                )
            ],
        },
        "agent.json": {"name": "agent", "tasks": [task("g", "AGENT")]},
        "handler.json": {"name": "not_a_workflow", "event": "conductor:x", "actions": []},
    }
    for name, document in documents.items():
        (tmp_path / name).write_text(json.dumps(document))
    result = measure(tmp_path)
    assert result["workflow_definitions"] == 5
    assert result["not_workflow_definitions"] == 1
    assert result["accepted"] == ["inline", "plain", "script"]
    assert result["crashed"] is False
    assert result["refused_workflows"] == {
        "agent": ["task type AGENT (LLM/agent family, stays refused)"],
        "parent": ["a sub-workflow it starts is refused"],
    }
    assert result["sources"]["parent"] == "parent.json"
