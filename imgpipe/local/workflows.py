"""Conductor workflow files given to `imgpipe run`, translated on the fly by the project translator.

The file is loaded exactly as `imgpipe translate FILE` loads it (``statemachines.project.
load_for_path``): with the task definitions of a sibling `tasks/` directory when there is one (its
sibling files are its possible SUB_WORKFLOWs), otherwise with the project's task definitions, options
and workflows. Its SIMPLE tasks must be tasks the project's workers serve: any other one is a Step
Functions activity, which needs a worker polling an endpoint (`imgpipe serve`, `imgpipe.worker`).
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
    translated = _translate(path)
    if translated.activity_tasks:
        raise UsageError(
            f"{path}: SIMPLE task(s) {', '.join(sorted(translated.activity_tasks))} have no worker in this "
            f"project (workers: {', '.join(WORKER_TASKS)}); they translate to Step Functions activities, "
            "which need a polling worker: run the workflow under `imgpipe serve` with imgpipe.worker"
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


def _translate(path: Path) -> Any:
    from statemachines.project import load_for_path, translate_deployable
    from statemachines.translator import Diagnostics, TranslationError

    diagnostics = Diagnostics()
    try:
        project, names = load_for_path(path, diagnostics)
    except TranslationError as error:  # the project's own definitions are broken
        raise UsageError(f"{path}: cannot translate: {error}") from error
    problems = [str(d) for d in diagnostics.errors]
    if problems:
        raise UsageError(f"{path}: invalid workflow definition: {'; '.join(problems[:5])}")
    translated, findings = translate_deployable(project, names=names)
    errors = [d for d in findings if d.severity == "error"]
    if errors:
        raise UsageError(f"{path}: cannot translate: {TranslationError(errors)}")
    return translated[names[0]]
