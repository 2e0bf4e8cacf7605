"""EXCLUSIVE_JOIN: the output of the one branch of a DECISION/SWITCH that ran.

Conductor (`core/.../execution/tasks/ExclusiveJoin.java`) looks through `joinOn` in order for the
first task that was scheduled (not skipped), then through `defaultExclusiveJoinTask`, and completes
with that task's output. Here every task an EXCLUSIVE_JOIN may pick is marked when it has run
(`$.tasks.<ref>.ran`, a Pass after it), and one Choice picks the first marked one in Conductor's
order. When none ran Conductor's join waits forever; here the execution fails at once with
`Conductor.ExclusiveJoinNothingRan`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import choice_or_fail, link
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import WorkflowTask
from statemachines.translator.references import DEFAULT_TASKS, joined_refs

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

NOTHING_RAN = "Conductor.ExclusiveJoinNothingRan"


def exclusive_join_candidates(tasks: Iterable[WorkflowTask]) -> frozenset[str]:
    """Every reference some EXCLUSIVE_JOIN of the workflow may output: these are marked when run."""
    found: set[str] = set()
    for task in tasks:
        if task.type == "EXCLUSIVE_JOIN":
            found |= set(joined_refs(task))
        for children in task.children():
            found |= exclusive_join_candidates(children)
    return frozenset(found)


def ran_path(ref: str) -> str:
    return f"$.tasks.{ref}.ran"


def mark_ran(emitter: WorkflowEmitter, ref: str, states: dict[str, Any], next_name: str | None) -> str:
    """A Pass after the task `ref`: it has run (read by the EXCLUSIVE_JOINs that may output it)."""
    name = emitter.names.allocate(f"{ref}: ran")
    states[name] = link(
        {
            "Type": "Pass",
            "Comment": "Marks the task as run, for EXCLUSIVE_JOIN",
            "Result": True,
            "ResultPath": ran_path(ref),
        },
        next_name,
    )
    return name


def emit_exclusive_join(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    candidates = joined_refs(task)
    if not candidates:
        emitter.diagnostics.error(
            f"{site.location}.joinOn", f"EXCLUSIVE_JOIN '{ref}' needs joinOn (or {DEFAULT_TASKS}) references"
        )
        return site.next_name
    unknown = [c for c in candidates if c not in emitter.refs]
    if unknown:
        field = "joinOn" if unknown[0] in task.joinOn else DEFAULT_TASKS
        emitter.diagnostics.error(
            f"{site.location}.{field}",
            f"EXCLUSIVE_JOIN '{ref}' joins {', '.join(unknown)}: not a task reference of this workflow",
        )
        return site.next_name
    after = ensure_outputs(emitter, ref, states, site.next_name)
    choices: list[dict[str, Any]] = []
    for candidate in dict.fromkeys(candidates):
        pick = emitter.names.allocate(f"{ref}: output of {candidate}")
        states[pick] = link(
            {
                "Type": "Pass",
                "Comment": f"Conductor EXCLUSIVE_JOIN: the output of {candidate}, which ran",
                "Parameters": {"output.$": f"$.tasks.{candidate}.output"},
                "ResultPath": f"$.tasks.{ref}",
            },
            after,
        )
        choices.append({"Variable": ran_path(candidate), "IsPresent": True, "Next": pick})
    # Conductor's join would wait forever when none of its tasks ran
    failure = (f"{ref}: nothing ran", NOTHING_RAN, f"none of {', '.join(candidates)} ran")
    return choice_or_fail(states, emitter.names, ref, choices, failure=failure)
