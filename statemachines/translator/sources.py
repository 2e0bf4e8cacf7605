"""Reading Conductor JSON (files, directories, API payloads) into validated models, with diagnostics."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.model import TaskDef, WorkflowDef


@dataclass
class Sources:
    """Everything the translator reads: task definitions and workflows by name."""

    task_defs: dict[str, TaskDef] = field(default_factory=dict)
    workflows: dict[str, WorkflowDef] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # workflow name -> file it came from


def _location(error: Any) -> str:
    text = ""
    for part in error["loc"]:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def parse_task_defs(document: Any, origin: str, diagnostics: Diagnostics) -> list[TaskDef]:
    """A TaskDef object or a list of them (the /metadata/taskdefs payload)."""
    items = document if isinstance(document, list) else [document]
    task_defs = []
    for index, item in enumerate(items):
        prefix = f"[{index}]" if isinstance(document, list) else ""
        try:
            task_defs.append(TaskDef.model_validate(item))
        except ValidationError as error:
            for problem in error.errors():
                diagnostics.error(f"{origin}{prefix}.{_location(problem)}", problem["msg"])
    return task_defs


def parse_workflow(document: Any, origin: str, diagnostics: Diagnostics) -> WorkflowDef | None:
    try:
        return WorkflowDef.model_validate(document)
    except ValidationError as error:
        for problem in error.errors():
            diagnostics.error(f"{origin}: {_location(problem)}", problem["msg"])
        return None


def read_json(path: Path, diagnostics: Diagnostics) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        diagnostics.error(str(path), f"cannot read JSON: {error}")
        return None


def load_directory_pair(
    workflow_paths: Iterable[Path], task_dirs: Iterable[Path], diagnostics: Diagnostics
) -> Sources:
    """Workflows from the given files, task definitions from every *.json in the task directories."""
    sources = Sources()
    for directory in task_dirs:
        for path in sorted(directory.glob("*.json")):
            document = read_json(path, diagnostics)
            if document is None:
                continue
            for task_def in parse_task_defs(document, path.name, diagnostics):
                if task_def.name in sources.task_defs:
                    diagnostics.error(path.name, f"task definition '{task_def.name}' is defined twice")
                sources.task_defs[task_def.name] = task_def
    for path in workflow_paths:
        document = read_json(path, diagnostics)
        if document is None:
            continue
        workflow = parse_workflow(document, path.name, diagnostics)
        if workflow is None:
            continue
        if workflow.name in sources.workflows:
            diagnostics.error(path.name, f"workflow '{workflow.name}' is defined twice")
        sources.workflows[workflow.name] = workflow
        sources.files[workflow.name] = path
    return sources
