"""Which read paths a translated workflow reads from a view, and where (see missing_paths.py).

A view is `$.tasks.<ref>.reads.<key>`: a copy of one path of a task's output or input, null when the
path is missing, rebuilt after every run of the task, so that Conductor's null for a missing path
never becomes a key of the task's own output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from statemachines.translator.expressions import path_of
from statemachines.translator.model import WorkflowDef, WorkflowTask
from statemachines.translator.references import joined_refs

VIEWS_KEY = "reads"  # $.tasks.<ref>.reads: the views of a task's paths
# tasks after every run of which the emitter rebuilds the task's views (`_ensure_outputs`)
VIEWED_KINDS = frozenset({"SIMPLE", "SUB_WORKFLOW", "JOIN"})


def _kinds(tasks: Iterable[WorkflowTask]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for task in tasks:
        kinds[task.taskReferenceName] = task.type
        for children in task.children():
            kinds |= _kinds(children)
    return kinds


def _joined(tasks: Iterable[WorkflowTask]) -> set[str]:
    joined: set[str] = set()
    for task in tasks:
        # a JOIN and an EXCLUSIVE_JOIN (with its defaultExclusiveJoinTask) output these tasks whole
        joined |= set(joined_refs(task))
        for children in task.children():
            joined |= _joined(children)
    return joined


# the owner of the workflow input's views: never a task reference (emitter_state refuses it as one)
WORKFLOW_OWNER = "workflow"


def view_owner(path: tuple[str, ...]) -> str:
    """The context entry whose `reads` holds the view of `path`: its task, or `workflow`."""
    return path[1] if path[0] == "tasks" else WORKFLOW_OWNER


def _viewable_from(path: tuple[str, ...], kinds: Mapping[str, str]) -> int | None:
    """How short an enclosing read may be to see through `path` (None: `path` is never viewed)."""
    if path[0] == "tasks" and len(path) > 3 and kinds.get(path[1]) in VIEWED_KINDS:
        return 3  # ("tasks", ref, "output"|"input")
    if path[:2] == ("workflow", "input") and len(path) > 2:
        return 2  # ("workflow", "input")
    return None


def plan_views(workflow: WorkflowDef, referenced: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """The read paths that are read from a view, each with its view's key.

    A path needs one when something reads an enclosing value: another read path that is a prefix of
    it, a JOIN that outputs the task's whole output, or (without outputParameters) the workflow output,
    which may be any task's. Only tasks whose views the emitter rebuilds after each run get views
    (and the workflow input, which never changes); the others keep the in-place defaults."""
    kinds = _kinds(workflow.tasks)
    reads = set(referenced)
    observers = set(reads)
    observers |= {("tasks", ref, "output") for ref in _joined(workflow.tasks)}
    if not workflow.outputParameters:
        observers |= {("tasks", ref, "output") for ref in kinds}
    views: dict[tuple[str, ...], str] = {}
    taken: dict[str, set[str]] = {}
    for path in sorted(reads):
        shallowest = _viewable_from(path, kinds)
        if shallowest is None or not any(path[:depth] in observers for depth in range(shallowest, len(path))):
            continue
        keys = taken.setdefault(view_owner(path), set())
        base = re.sub(r"\W", "_", "_".join(path[2:] if path[0] == "tasks" else path[1:]))
        key, number = base, 1
        while key in keys:
            number += 1
            key = f"{base}_{number}"
        keys.add(key)
        views[path] = key
    return views


def view_locator(views: Mapping[tuple[str, ...], str]) -> Callable[[tuple[str, ...]], str]:
    """`locate(path)`: the JSONPath an expression reads `path` (a tuple of segments) at."""

    def locate(segments: tuple[str, ...]) -> str:
        for depth in range(len(segments), 2, -1):
            key = views.get(segments[:depth])
            if key is not None:
                view = path_of(("tasks", view_owner(segments), VIEWS_KEY, key))
                return path_of(segments[depth:], view)
        return path_of(segments)

    return locate
