"""Conductor workflow files given to `imgpipe run`, translated on the fly by the project translator.

The file is loaded exactly as `imgpipe translate FILE` loads it (``statemachines.project.
load_for_path``): with the task definitions of a sibling `tasks/` directory when there is one (its
sibling files are its possible SUB_WORKFLOWs), otherwise with the project's task definitions, options
and workflows. Its SIMPLE tasks must be tasks the project's workers serve: any other one is a Step
Functions activity, which needs a worker polling an endpoint (`imgpipe serve`, `imgpipe.worker`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from imgpipe.config import WORKER_TASKS
from imgpipe.local.runner import UsageError
from statemachines.translator.callback import waiting_task_refs

if TYPE_CHECKING:
    from statemachines.translator import Translation

MAX_DEFINITION_BYTES = 1024 * 1024  # a workflow definition, not a data file


def translate_workflow_file(path: Path) -> Translation:
    """Translate one Conductor workflow JSON file into a ``Translation``.

    Every problem is a UsageError that names the file and the field.
    """
    return translate_workflow_file_with_children(path)[-1]


def translate_workflow_file_with_children(path: Path) -> list[Translation]:
    """The file's workflow last, after every workflow it starts that is not one of imgpipe's own
    (its siblings, when it has its own `tasks/`), children first: a state machine's children must
    exist before it. Each is checked as the file is; every problem is a UsageError naming the file."""
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
    chain = _translate(path)
    for translated in chain:
        _check_runnable(
            path, translated, "" if translated is chain[-1] else f" (sub-workflow {translated.name})"
        )
    return chain


def _check_runnable(path: Path, translated: Translation, which: str) -> None:
    """What `imgpipe run` cannot complete by itself: activities and tasks completed from outside."""
    if translated.activity_tasks:
        raise UsageError(
            f"{path}{which}: SIMPLE task(s) {', '.join(sorted(translated.activity_tasks))} have no worker "
            f"in this project (workers: {', '.join(WORKER_TASKS)}); they translate to Step Functions "
            "activities, which need a polling worker: run the workflow under `imgpipe serve` with "
            "imgpipe.worker"
        )
    waiting = waiting_task_refs(translated.asl)
    if waiting:
        raise UsageError(
            f"{path}{which}: task(s) {', '.join(waiting)} wait to be completed from outside (HUMAN, WAIT "
            "without duration or until), and nothing can complete them while `imgpipe run` waits: serve "
            "the workflow with `imgpipe serve` and complete them with `imgpipe complete TASK_REF "
            "--execution ARN --endpoint-url URL`"
        )


def _children_first(deployable: Mapping[str, Translation], name: str, path: Path) -> list[Translation]:
    """`name` and the workflows it starts, transitively, each after the ones it starts."""
    ordered: list[str] = []
    visiting: list[str] = []

    def visit(current: str) -> None:
        if current in ordered:
            return
        if current in visiting:
            cycle = " -> ".join([*visiting[visiting.index(current) :], current])
            raise UsageError(
                f"{path}: workflows start each other ({cycle}): list the ones each may start in "
                "translator.json sub_workflow_targets"
            )
        visiting.append(current)
        for child in sorted(deployable[current].workflow_dependencies):
            visit(child)
        visiting.pop()
        ordered.append(current)

    visit(name)
    return [deployable[n] for n in ordered]


def _translate(path: Path) -> list[Translation]:
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
    return _children_first(translated, names[0], path)
