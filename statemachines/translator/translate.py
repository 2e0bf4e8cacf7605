"""The translator's entry point: one Conductor workflow in, its `Translation` out."""

from __future__ import annotations

from collections.abc import Mapping

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.emitter import WorkflowEmitter
from statemachines.translator.model import TaskDef, WorkflowDef
from statemachines.translator.options import TranslatorOptions
from statemachines.translator.retries import fit_throttle_retries
from statemachines.translator.translation import Translation, summarise

__all__ = ["Translation", "translate_workflow"]


def translate_workflow(
    workflow: WorkflowDef,
    task_defs: Mapping[str, TaskDef],
    workflows: Mapping[str, WorkflowDef] | None = None,
    options: TranslatorOptions | None = None,
) -> Translation:
    """Translate `workflow`; `workflows` are the others it may start as SUB_WORKFLOW children."""
    diagnostics = Diagnostics(workflow.name)
    known = dict(workflows or {})
    known.setdefault(workflow.name, workflow)
    chosen = options or TranslatorOptions()
    emitter = WorkflowEmitter(workflow, task_defs, known, chosen, diagnostics)
    emitted = emitter.emit()
    if chosen.duration_budget_seconds is not None:
        fit_throttle_retries(emitted.asl, chosen.duration_budget_seconds, chosen, diagnostics)
    return summarise(workflow, emitted, diagnostics.items)
