"""DYNAMIC: a worker task whose name is read from the task input at run time.

Conductor (`DynamicTaskMapper`) reads the name from the input parameter `dynamicTaskNameParam`
names, schedules the task of that name with the task's input, under its task definition, and
terminates the workflow when the name is missing or names no task definition. Here a Choice over
the task names the project knows (translator option `dynamic_task_targets`, else every registered
task definition) routes to one worker state per name, each with that task's own policy; a missing,
non-string or unknown name fails the execution with `Conductor.UnknownDynamicTask`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachines.translator.asl_states import link, route_by_name
from statemachines.translator.expressions import Literal, Path
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.task_states import lambda_state, optional_catch

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

NAME_PARAM = "dynamicTaskNameParam"
UNKNOWN_TASK = "Conductor.UnknownDynamicTask"


def emit_dynamic(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    param = (task.model_extra or {}).get(NAME_PARAM)
    if not isinstance(param, str) or param not in task.inputParameters:
        emitter.diagnostics.error(
            f"{site.location}.{NAME_PARAM}",
            f"DYNAMIC '{ref}' needs {NAME_PARAM} naming one of its inputParameters (the task name)",
        )
        return site.next_name
    where = f"{site.location}.inputParameters.{param}"
    name = emitter.analysis.value(task.inputParameters[param], where)
    targets = _targets(emitter, ref, name, where)
    if name is None or targets is None:
        return site.next_name
    for field in ("retryCount", "taskDefinition"):
        if getattr(task, field) is not None:
            emitter.diagnostics.warning(
                f"{site.location}.{field}",
                f"DYNAMIC '{ref}': each task it runs keeps its registered definition; {field} is ignored",
            )
    after = ensure_outputs(emitter, ref, states, site.next_name)
    params = emitter.analysis.parameters(task.inputParameters, f"{site.location}.inputParameters")
    if ref in emitter.analysis.inputs_read:
        keep = emitter.names.allocate(f"{ref}: keep input")
        states[keep] = link(
            {"Type": "Pass", "Parameters": params, "ResultPath": f"$.tasks.{ref}.input"}, after
        )
        after = keep
    routes: dict[str, str] = {}
    for target in targets:
        state = lambda_state(emitter, target, where, params)
        state["Comment"] = f"Conductor DYNAMIC '{ref}' running task '{target}'"
        state["ResultPath"] = f"$.tasks.{ref}"
        if task.optional:
            state["Catch"] = [optional_catch(emitter, ref, states, after, errors=emitter.last_catch_errors)]
        routes[target] = emitter.names.allocate(f"{ref}: {target}")
        states[routes[target]] = link(state, after)
    if isinstance(name, Literal):
        return routes[targets[0]]
    failure = (f"{ref}: unknown task", UNKNOWN_TASK, f"{ref} runs {', '.join(targets)} only")
    return route_by_name(states, emitter.names, ref, name.asl, routes, failure=failure)


def _targets(emitter: WorkflowEmitter, ref: str, name: Path | Literal | None, where: str) -> list[str] | None:
    """The task names the DYNAMIC task may run; None (reported) when it cannot be translated."""
    key = f"{emitter.workflow.name}.{ref}"
    if isinstance(name, Literal):
        listed: list[str] = [str(name.value)]
    elif isinstance(name, Path) and not name.asl.startswith("States."):
        configured = emitter.options.dynamic_task_targets.get(key)
        listed = list(configured) if configured is not None else sorted(emitter.task_defs)
    else:
        emitter.diagnostics.error(
            where, f"DYNAMIC '{ref}': the task name must be a literal or one expression"
        )
        return None
    unknown = [n for n in listed if n not in emitter.task_defs]
    if unknown or not listed:
        emitter.diagnostics.error(
            where,
            f"DYNAMIC '{ref}': "
            + (f"no task definition named {', '.join(unknown)}" if unknown else "no task definition to run")
            + f" (Conductor terminates the workflow; translator.json dynamic_task_targets['{key}'] lists"
            " the tasks it may run)",
        )
        return None
    return listed
