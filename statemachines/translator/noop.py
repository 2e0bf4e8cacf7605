"""NOOP: Conductor completes it at once with an empty output (`tasks/Noop.java`); here a Pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachines.translator.asl_states import link
from statemachines.translator.missing_paths import ensure_outputs

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite


def emit_noop(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states, next_name = site.task, site.states, site.next_name
    ref = task.taskReferenceName
    after = ensure_outputs(emitter, ref, states, next_name)
    name = emitter.names.allocate(ref)
    states[name] = link(
        {
            "Type": "Pass",
            "Comment": "Conductor NOOP: completed at once, output {}",
            "Result": {},
            "ResultPath": f"$.tasks.{ref}.output",
        },
        after,
    )
    return name
