"""The translator's entry point: one Conductor workflow in, ASL and diagnostics out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from statemachines.translator.diagnostics import Diagnostic, Diagnostics
from statemachines.translator.duration import longest_seconds
from statemachines.translator.emitter import EXPRESS_MAX_SECONDS, EmitResult, WorkflowEmitter
from statemachines.translator.model import TaskDef, WorkflowDef
from statemachines.translator.options import TranslatorOptions
from statemachines.translator.retries import fit_throttle_retries


@dataclass(frozen=True)
class Translation:
    workflow: WorkflowDef
    result: EmitResult
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def longest_seconds(self) -> float | None:
        """Worst-case duration (every retry, every timeout); None when unbounded."""
        return longest_seconds(self.result.asl)

    @property
    def express_compatible(self) -> bool:
        """Express cannot wait for .sync children and stops at 5 minutes, so a workflow with children or
        with a Wait past that is Standard-only. Retries and timeouts are not counted here: their worst
        case (every attempt timing out, every back-off taken) is `longest_seconds`, which the CDK app
        reports when a deployer chooses Express anyway. Express runs no activities either
        (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-standard-vs-express.html)."""
        return (
            not self.result.child_workflows
            and not self.result.activity_tasks
            and self.result.longest_wait_seconds <= EXPRESS_MAX_SECONDS
        )


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
    result = emitter.emit()
    if chosen.duration_budget_seconds is not None:
        fit_throttle_retries(result.asl, chosen.duration_budget_seconds, chosen, diagnostics)
    return Translation(workflow, result, list(diagnostics.items))
