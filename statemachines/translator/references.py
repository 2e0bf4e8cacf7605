"""Task references of a workflow: which live in the context, which hold a dynamic fork's result."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from statemachines.translator.model import WorkflowTask


def located_tasks(
    tasks: Iterable[WorkflowTask], location: str = "tasks"
) -> Iterator[tuple[str, WorkflowTask]]:
    """Every task of a workflow, nested ones included, with its JSON path in the definition."""
    for index, task in enumerate(tasks):
        where = f"{location}[{index}]"
        yield where, task
        for b, branch in enumerate(task.forkTasks):
            yield from located_tasks(branch, f"{where}.forkTasks[{b}]")
        for case, case_tasks in task.decisionCases.items():
            yield from located_tasks(case_tasks, f"{where}.decisionCases.{case}")
        yield from located_tasks(task.defaultCase, f"{where}.defaultCase")
        yield from located_tasks(task.loopOver, f"{where}.loopOver")


def context_refs(tasks: Iterable[WorkflowTask]) -> list[str]:
    """Task references whose results live in the context (everything but dynamic-fork items)."""
    return [task.taskReferenceName for _, task in located_tasks(tasks)]


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
