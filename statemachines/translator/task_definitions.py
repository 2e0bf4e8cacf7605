"""Which task definition governs one use of a worker task, as Conductor decides it.

Conductor fills a workflow task's definition once, when the workflow starts
(conductor-oss core/.../metadata/MetadataMapperService.java): an inline `taskDefinition` on the
workflow task is kept as it is (the registered one is not looked up, not merged); otherwise the
registered definition of that name; a SIMPLE task with neither gets `new TaskDef(name)`, Conductor's
defaults (retryCount 3, FIXED, retryDelaySeconds 60, responseTimeoutSeconds 3600, timeoutSeconds 0,
TIME_OUT_WF: common/.../metadata/tasks/TaskDef.java). The workflow task's own `retryCount`, when set,
replaces the definition's (DeciderService.retry: `workflowTask.getRetryCount()` or else the
definition's). The definition's `inputTemplate` supplies the task's input keys its `inputParameters`
do not give, expressions included (ParametersUtils.getTaskInputV2: `putIfAbsent`, then resolved).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from statemachines.translator.model import TaskDef, WorkflowTask

Origin = Literal["inline", "registered", "default"]


@dataclass(frozen=True)
class GoverningTaskDef:
    """The definition one task runs under, where it came from, and where its findings are located."""

    task_def: TaskDef
    origin: Origin
    # `taskDefs.<name>` for a registered or default definition (reported once per workflow),
    # `<task location>.taskDefinition` for an inline one
    location: str


def governing_task_def(
    name: str,
    task: WorkflowTask | None,
    registered: Mapping[str, TaskDef],
    task_location: str,
) -> GoverningTaskDef:
    """The definition of task `name` as used by `task` (None: a task the workflow does not spell
    out, such as one a dynamic fork runs), located for diagnostics."""
    if task is not None and task.taskDefinition is not None:
        governing = GoverningTaskDef(task.taskDefinition, "inline", f"{task_location}.taskDefinition")
    elif name in registered:
        governing = GoverningTaskDef(registered[name], "registered", f"taskDefs.{name}")
    else:
        governing = GoverningTaskDef(TaskDef.model_validate({"name": name}), "default", f"taskDefs.{name}")
    if task is not None and task.retryCount is not None:
        overridden = governing.task_def.model_copy(update={"retryCount": task.retryCount})
        return GoverningTaskDef(overridden, governing.origin, governing.location)
    return governing


def default_definition_note(name: str) -> str:
    """The warning for a SIMPLE task without a definition: what it runs under instead."""
    default = TaskDef.model_validate({"name": name})
    return (
        f"SIMPLE task '{name}' has no task definition: it runs under Conductor's default definition "
        f"(retryCount {default.retryCount}, {default.retryLogic} {default.retryDelaySeconds} s, "
        f"responseTimeoutSeconds {default.responseTimeoutSeconds}, timeoutSeconds "
        f"{default.timeoutSeconds}, {default.timeoutPolicy}), as in Conductor"
    )


def template_inputs(task: WorkflowTask, task_def: TaskDef) -> dict[str, Any]:
    """The `inputTemplate` entries the task's own `inputParameters` do not override."""
    return {key: value for key, value in task_def.inputTemplate.items() if key not in task.inputParameters}
