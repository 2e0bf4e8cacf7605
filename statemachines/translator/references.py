"""Task references of a workflow: which live in the context, which hold a dynamic fork's result."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from statemachines.translator.model import WorkflowTask


def located_tasks(
    tasks: Iterable[WorkflowTask], location: str = "tasks"
) -> Iterator[tuple[str, WorkflowTask]]:
    """Every task of a workflow, nested ones included, with its JSON path in the definition."""
    for index, task in enumerate(tasks):
        where = f"{location}[{index}]"
        yield where, task
        for path, children in task.located_children():
            yield from located_tasks(children, f"{where}.{path}")


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
        for children in task.children():
            refs.extend(dynamic_join_refs(children))
    return refs


# a top-level task's inputParameters: the only place Conductor's registration checks references
# (TaskReferenceNameUniqueConstraint.verifyTaskInputParameters -> ConstraintParamUtil.validateInputParam,
# over `workflow.getTasks()`)
REGISTRATION_CHECKED = re.compile(r"tasks\[\d+\]\.inputParameters(?:[.\[]|$)")


def registration_checks(location: str) -> bool:
    """Whether Conductor refuses to register a reference to an unknown task at `location`."""
    return REGISTRATION_CHECKED.match(location) is not None


@dataclass(frozen=True)
class ForkedRefs:
    """The references a FORK_JOIN_DYNAMIC gives the tasks it forks, which no definition names:
    `_<forkTaskName>_<index>` in the newer form (ForkJoinDynamicTaskMapper), any in the older one
    (its dynamicTasks input names them); `pattern` None stands for any."""

    fork: str
    pattern: re.Pattern[str] | None

    def may_name(self, ref: str) -> bool:
        return self.pattern is None or self.pattern.fullmatch(ref) is not None


def forked_refs(tasks: Iterable[WorkflowTask]) -> list[ForkedRefs]:
    """Every dynamic fork of a workflow, nested ones included, with the references it may create."""
    forks: list[ForkedRefs] = []
    for _, task in located_tasks(tasks):
        if task.type != "FORK_JOIN_DYNAMIC":
            continue
        fork = simple_fork(task)
        if fork is None:
            forks.append(ForkedRefs(task.taskReferenceName, None))
            continue
        middle = ".+" if "${" in fork.name else re.escape(fork.name)
        forks.append(ForkedRefs(task.taskReferenceName, re.compile(f"_{middle}_\\d+")))
    return forks


@dataclass(frozen=True)
class SimpleFork:
    """Conductor's newer dynamic fork: one task (or sub-workflow) over a list of inputs."""

    name: str
    type: str
    workflow: str | None


def simple_fork(task: WorkflowTask) -> SimpleFork | None:
    """The newer form, read from inputParameters as Conductor does, or None for the older forms.

    forkTaskName defaults to forkTaskType (a system task) or to the fork's own reference; the type
    defaults to SIMPLE.
    """
    params = task.inputParameters
    if "forkTaskInputs" not in params:
        return None
    kind = params.get("forkTaskType") or "SIMPLE"
    workflow = params.get("forkTaskWorkflow")
    name = params.get("forkTaskName") or (kind if kind != "SIMPLE" else task.taskReferenceName)
    return SimpleFork(name=str(name), type=str(kind), workflow=str(workflow) if workflow else None)


# the tasks an EXCLUSIVE_JOIN looks at when none of its joinOn ran (ExclusiveJoin.java)
DEFAULT_TASKS = "defaultExclusiveJoinTask"


def joined_refs(task: WorkflowTask) -> list[str]:
    """The references a JOIN outputs, or an EXCLUSIVE_JOIN may output, in the order Conductor looks
    at them (exclusive_join.py)."""
    defaults = (task.model_extra or {}).get(DEFAULT_TASKS) or []
    return [*task.joinOn, *(str(ref) for ref in defaults if isinstance(ref, str))]
