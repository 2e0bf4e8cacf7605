"""Conductor workflow files given to `imgpipe run`, translated on the fly by the project translator.

The file is translated with the project's task definitions, translator options and workflows (its
SUB_WORKFLOWs must be project workflows; its SIMPLE tasks must be tasks the project's workers serve),
exactly as ``statemachines.project.translate_all`` translates the deployed ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imgpipe.config import WORKER_TASKS
from imgpipe.local.runner import UsageError
from statemachines.translator.callback import waiting_task_refs

MAX_DEFINITION_BYTES = 1024 * 1024  # a workflow definition, not a data file


def translate_workflow_file(path: Path) -> Any:
    """Translate one Conductor workflow JSON file into a ``TranslatedWorkflow``.

    Every problem is a UsageError that names the file and the field.
    """
    if not path.is_file():
        raise UsageError(f"workflow file {str(path)!r} does not exist")
    if path.stat().st_size > MAX_DEFINITION_BYTES:
        raise UsageError(f"{path}: larger than {MAX_DEFINITION_BYTES} bytes; not a workflow definition")
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{path}: not a readable JSON workflow ({error})") from error
    if not isinstance(definition, dict) or not isinstance(definition.get("name"), str):
        raise UsageError(f"{path}: a Conductor workflow is a JSON object with a 'name'")
    translated = _translate(definition, path)
    unserved = sorted(set(translated.lambda_tasks) - set(WORKER_TASKS))
    if unserved:
        raise UsageError(
            f"{path}: SIMPLE task(s) {', '.join(unserved)} have no worker in this project "
            f"(workers: {', '.join(WORKER_TASKS)})"
        )
    waiting = waiting_task_refs(translated.asl)
    if waiting:
        raise UsageError(
            f"{path}: task(s) {', '.join(waiting)} wait to be completed from outside (HUMAN, WAIT without "
            "duration or until), and nothing can complete them while `imgpipe run` waits: serve the "
            "workflow with `imgpipe serve` and complete them with `imgpipe complete TASK_REF "
            "--execution ARN --endpoint-url URL`"
        )
    return translated


def _translate(definition: dict[str, Any], path: Path) -> Any:
    from pydantic import ValidationError

    from statemachines.project import translate_definition

    try:
        return translate_definition(definition)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(root)'}: {item['msg']}"
            for item in error.errors()[:5]
        )
        raise UsageError(f"{path}: invalid workflow definition: {problems}") from error
    except UsageError as error:
        raise UsageError(f"{path}: {error}") from error
    except Exception as error:  # the translator's typed errors carry its diagnostics
        raise UsageError(f"{path}: cannot translate: {error}") from error
