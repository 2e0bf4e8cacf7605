"""Conductor workflow files given to `imgpipe run`, translated on the fly by the project translator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imgpipe.local.runner import UsageError


def translate_workflow_file(path: Path) -> Any:
    """Translate one Conductor workflow JSON file with the project's task definitions.

    Its SIMPLE tasks must be tasks the project's workers serve; its SUB_WORKFLOWs must be project
    workflows. Every problem is a UsageError that names the file and the field.
    """
    if not path.is_file():
        raise UsageError(f"workflow file {str(path)!r} does not exist")
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{path}: not a readable JSON workflow ({error})") from error
    if not isinstance(definition, dict) or not isinstance(definition.get("name"), str):
        raise UsageError(f"{path}: a Conductor workflow is a JSON object with a 'name'")
    from statemachines import project

    translate = getattr(project, "translate_workflow", None)
    if translate is None:
        raise UsageError(
            "translating a workflow file needs statemachines.project.translate_workflow(definition), "
            "which this version of the translator does not provide"
        )
    try:
        return translate(definition)
    except Exception as error:  # the translator's typed errors carry its diagnostics
        raise UsageError(f"{path}: cannot translate: {error}") from error
