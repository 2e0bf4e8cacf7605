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

VIEWS_KEY = "reads"  # $.tasks.<ref>.reads: the views of a task's paths
# tasks after every run of which the emitter rebuilds the task's views (`_ensure_outputs`)
VIEWED_KINDS = frozenset({"SIMPLE", "SUB_WORKFLOW", "JOIN"})


def _kinds(tasks: Iterable[WorkflowTask]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for task in tasks:
        kinds[task.taskReferenceName] = task.type
        for children in (*task.forkTasks, *task.decisionCases.values(), task.defaultCase, task.loopOver):
            kinds |= _kinds(children)
    return kinds


def _joined(tasks: Iterable[WorkflowTask]) -> set[str]:
    joined: set[str] = set()
    for task in tasks:
        joined |= set(task.joinOn)
        for children in (*task.forkTasks, *task.decisionCases.values(), task.defaultCase, task.loopOver):
            joined |= _joined(children)
    return joined


def plan_views(workflow: WorkflowDef, referenced: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """The read paths that are read from a view, each with its view's key.

    A path needs one when something reads an enclosing value: another read path that is a prefix of
    it, a JOIN that outputs the task's whole output, or (without outputParameters) the workflow output,
    which may be any task's. Only tasks whose views the emitter rebuilds after each run get views;
    the others keep the in-place defaults."""
    kinds = _kinds(workflow.tasks)
    reads = set(referenced)
    observers = set(reads)
    observers |= {("tasks", ref, "output") for ref in _joined(workflow.tasks)}
    if not workflow.outputParameters:
        observers |= {("tasks", ref, "output") for ref in kinds}
    views: dict[tuple[str, ...], str] = {}
    taken: dict[str, set[str]] = {}
    for path in sorted(reads):
        if path[0] != "tasks" or len(path) < 4 or kinds.get(path[1]) not in VIEWED_KINDS:
            continue
        if not any(path[:depth] in observers for depth in range(3, len(path))):
            continue
        keys = taken.setdefault(path[1], set())
        base = re.sub(r"\W", "_", "_".join(path[2:]))
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
        for depth in range(len(segments), 3, -1):
            key = views.get(segments[:depth])
            if key is not None:
                return path_of(segments[depth:], path_of(("tasks", segments[1], VIEWS_KEY, key)))
        return path_of(segments)

    return locate
