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
    return translated


def _translate(definition: dict[str, Any], path: Path) -> Any:
    from pydantic import ValidationError

    from statemachines import project

    # The translator's own one-definition entry point, once it exists (requested from the lead):
    # translate_definition(definition: dict) -> TranslatedWorkflow. (`project.translate_workflow` is
    # the low-level translator function it imports, with another signature.)
    entry_point = getattr(project, "translate_definition", None)
    try:
        if entry_point is not None:
            return entry_point(definition)
        return _translate_with_project(definition)
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


def _translate_with_project(definition: dict[str, Any]) -> Any:
    """What ``translate_all`` does for one project workflow, for a definition given from outside."""
    from statemachines.project import TranslatedWorkflow, load_project
    from statemachines.translator import translate_workflow
    from statemachines.translator.model import WorkflowDef

    loaded = load_project()
    workflow = WorkflowDef.model_validate(definition)
    translation = translate_workflow(workflow, loaded.task_defs, loaded.workflows, loaded.options)
    errors = [d for d in translation.diagnostics if d.severity == "error"]
    if errors:
        raise UsageError("; ".join(f"{d.location}: {d.message}" for d in errors[:5]))
    result = translation.result
    return TranslatedWorkflow(
        name=workflow.name,
        asl=result.asl,
        lambda_tasks=frozenset(result.lambda_tasks),
        child_workflows=frozenset(result.child_workflows),
        express_compatible=translation.express_compatible,
        timeout_seconds=workflow.timeoutSeconds or None,
        concurrency_hints=dict(sorted(result.concurrency_hints.items())),
        diagnostics=[d for d in translation.diagnostics if d.severity == "warning"],
    )
