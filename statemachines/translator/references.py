"""Task references of a workflow: which live in the context, which hold a dynamic fork's result."""

from __future__ import annotations

from collections.abc import Iterable

from statemachines.translator.model import WorkflowTask


def context_refs(tasks: Iterable[WorkflowTask]) -> list[str]:
    """Task references whose results live in the context (everything but dynamic-fork items)."""
    refs: list[str] = []
    for task in tasks:
        refs.append(task.taskReferenceName)
        for branch in task.forkTasks:
            refs.extend(context_refs(branch))
        for case in task.decisionCases.values():
            refs.extend(context_refs(case))
        refs.extend(context_refs(task.defaultCase))
        refs.extend(context_refs(task.loopOver))
    return refs


def dynamic_join_refs(tasks: list[WorkflowTask]) -> list[str]:
    """The reference holding each dynamic fork's result: its JOIN's, or the fork's own without one."""
    refs: list[str] = []
    for index, task in enumerate(tasks):
        if task.type == "FORK_JOIN_DYNAMIC":
            after = tasks[index + 1] if index + 1 < len(tasks) else None
            refs.append(after.taskReferenceName if after and after.type == "JOIN" else task.taskReferenceName)
        for branch in task.forkTasks:
            refs.extend(dynamic_join_refs(branch))
        for case in task.decisionCases.values():
            refs.extend(dynamic_join_refs(case))
        refs.extend(dynamic_join_refs(task.defaultCase))
        refs.extend(dynamic_join_refs(task.loopOver))
    return refs
