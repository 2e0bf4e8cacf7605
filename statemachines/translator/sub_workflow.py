"""SUB_WORKFLOW whose child is not a literal name of the project: an inline `workflowDefinition`, or
a name given as an expression.

Conductor (`SubWorkflowTaskMapper`, `StartWorkflowOperation`) starts the definition embedded in
`subWorkflowParam.workflowDefinition` when there is one, and otherwise the workflow that
`subWorkflowParam.name` resolves to at run time. Here an embedded definition is translated with the
parent and inlined as a one-branch Parallel (it has no state machine of its own to start); a name
expression becomes a Choice over the workflows it may name (translator option
`sub_workflow_targets`, else every other workflow of the project that translates), each branch starting that
child, and a name outside them fails with `Conductor.UnknownSubWorkflow`, as Conductor fails a task
whose workflow does not exist. Any other SUB_WORKFLOW is `task_states.emit_named_child`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from statemachines.translator.asl_states import PLACEHOLDER_NAME, link, route_by_name
from statemachines.translator.expressions import Path
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import WorkflowDef
from statemachines.translator.retries import warn_child_policy
from statemachines.translator.task_states import (
    child_start_state,
    emit_child,
    emit_named_child,
    optional_catch,
)

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.emitter_state import EmitterState
    from statemachines.translator.registry import EmitSite

INLINE_DEFINITION = "workflowDefinition"
UNKNOWN_CHILD = "Conductor.UnknownSubWorkflow"


def emit_sub_workflow(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    param = site.task.subWorkflowParam or {}
    if param.get(INLINE_DEFINITION) is not None:
        return _emit_inline_definition(emitter, site, param[INLINE_DEFINITION])
    name = param.get("name")
    if isinstance(name, str) and "${" in name:
        return _emit_named_at_run_time(emitter, site, name)
    return emit_named_child(emitter, site)


def _emit_inline_definition(emitter: WorkflowEmitter, site: EmitSite, definition: Any) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    where = f"{site.location}.subWorkflowParam.{INLINE_DEFINITION}"
    try:
        child = WorkflowDef.model_validate(definition)
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"])
            emitter.diagnostics.error(f"{where}.{field}", f"SUB_WORKFLOW '{ref}': {problem['msg']}")
        return site.next_name
    # an embedded definition may share its parent's name: it is its own definition, nested finitely
    return emit_child(emitter, task, site.location, states, site.next_name, child=child)


def _emit_named_at_run_time(emitter: WorkflowEmitter, site: EmitSite, expression: str) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    where = f"{site.location}.subWorkflowParam.name"
    resolved = emitter.analysis.value(expression, where)
    if not isinstance(resolved, Path) or resolved.asl.startswith("States."):
        emitter.diagnostics.error(
            where, f"SUB_WORKFLOW '{ref}': the name must be one expression (a Choice compares its value)"
        )
        return site.next_name
    targets = workflow_targets(emitter, "SUB_WORKFLOW", ref, where)
    if targets is None:
        return site.next_name
    warn_child_policy(task, emitter.task_defs, emitter.diagnostics, site.location)
    after = ensure_outputs(emitter, ref, states, site.next_name)
    params = emitter.analysis.parameters(task.inputParameters, f"{site.location}.inputParameters")
    routes: dict[str, str] = {}
    for child in targets:
        state = child_start_state(emitter, child, ref, params)
        if task.optional:
            state["Catch"] = [optional_catch(emitter, ref, states, after)]
        routes[child] = emitter.names.allocate(f"{ref}: {child}")
        states[routes[child]] = link(state, after)
    failure = (f"{ref}: unknown workflow", UNKNOWN_CHILD, f"{ref} may start {', '.join(targets)} only")
    return route_by_name(states, emitter.names, ref, resolved.asl, routes, failure=failure)


def workflow_targets(emitter: WorkflowEmitter, kind: str, ref: str, where: str) -> list[str] | None:
    """The workflows a name expression of a `kind` task (SUB_WORKFLOW, START_WORKFLOW) may start: the
    option's list, else every other workflow that translates."""
    key = f"{emitter.workflow.name}.{ref}"
    option = f"translator.json sub_workflow_targets['{key}'] lists the workflows it may start"
    listed = emitter.options.sub_workflow_targets.get(key)
    names = (
        list(listed) if listed is not None else default_workflow_targets(emitter, f"{kind} '{ref}'", where)
    )
    refused = emitter.options.refused_workflows
    problems = [
        f"'{n}' is not among the workflows being translated"
        if n not in emitter.workflows
        else "a workflow cannot start itself"
        if n == emitter.workflow.name
        else f"'{n}' is refused ({refused[n]})"
        if n in refused
        else f"workflow name '{n}' cannot be part of a definition-substitution placeholder"
        for n in names
        if n not in emitter.workflows
        or n == emitter.workflow.name
        or n in refused
        or not PLACEHOLDER_NAME.match(n)
    ]
    if problems or not names:
        emitter.diagnostics.error(
            where,
            f"{kind} '{ref}': "
            + ("; ".join(problems) if problems else "no other workflow it could start")
            + f" ({option})",
        )
        return None
    return names


def default_workflow_targets(emitter: EmitterState, what: str, where: str) -> list[str]:
    """Every other workflow of the project but the refused ones (`TranslatorOptions.refused_workflows`):
    a name among those fails at run time as an unknown one does; the warning names them and why."""
    others = sorted(set(emitter.workflows) - {emitter.workflow.name})
    refused = emitter.options.refused_workflows
    left_out = [name for name in others if name in refused]
    if left_out:
        reasons = "; ".join(f"{name}: {refused[name]}" for name in left_out)
        emitter.diagnostics.warning(
            where,
            f"{what} may start every other workflow but {', '.join(left_out)}, which could not be "
            f"translated (naming one fails at run time): {reasons}",
        )
    return [name for name in others if name not in refused]
