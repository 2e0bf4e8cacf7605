"""SIMPLE tasks (Lambda workers) and SUB_WORKFLOW tasks (child executions or inlined children)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachines.translator.activities import activity_state, served_by_lambda
from statemachines.translator.asl_states import (
    LAMBDA_INVOKE,
    PLACEHOLDER_NAME,
    START_EXECUTION_SYNC,
    link,
    prefixed_states,
)
from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import WorkflowDef, WorkflowTask
from statemachines.translator.retries import (
    start_execution_retry,
    task_policy,
    warn_child_policy,
    warn_unmapped_workflow_task,
)
from statemachines.translator.task_definitions import (
    GoverningTaskDef,
    default_definition_note,
    governing_task_def,
    template_inputs,
)

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite


# --- SIMPLE ------------------------------------------------------------------------------------
def lambda_state(
    emitter: WorkflowEmitter,
    task_name: str,
    location: str,
    payload: dict[str, Any] | str,
    *,
    task: WorkflowTask | None = None,
    task_location: str = "",
) -> dict[str, Any]:
    """A Lambda Task state: the optimised integration, whose result `{"output": <worker output>}`
    is what the context keeps per task. `payload` is a Parameters object or a JSONPath; `task`,
    the workflow task when the workflow spells it out (its retryCount and inline taskDefinition
    count). What an optional task's Catch may catch under this policy is kept in
    `emitter.last_catch_errors`. A task no Lambda worker serves is an activity instead
    (statemachines.translator.activities)."""
    governing, sink = _worker_definition(emitter, task_name, location, task, task_location)
    if not served_by_lambda(emitter, task_name):
        return activity_state(emitter, task_name, payload, governing, sink, input_template=task is not None)
    if governing.task_def.concurrentExecLimit:
        limit = governing.task_def.concurrentExecLimit
        emitter.result.concurrency_hints[task_name] = min(
            limit, emitter.result.concurrency_hints.get(task_name, limit)
        )
    arguments: dict[str, Any] = {"FunctionName": f"${{LambdaArn_{task_name}}}"}
    if isinstance(payload, str):
        arguments["Payload.$"] = payload
    else:
        arguments["Payload"] = payload
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": f"Conductor SIMPLE task '{task_name}'",
        "Resource": LAMBDA_INVOKE,
        "Parameters": arguments,
        "ResultSelector": {"output.$": "$.Payload"},
    }
    policy = task_policy(
        governing.task_def, emitter.options, sink, governing.location, input_template=task is not None
    )
    state.update(policy.fields)
    emitter.last_catch_errors = policy.optional_catch_errors
    return state


def _worker_definition(
    emitter: WorkflowEmitter, task_name: str, location: str, task: WorkflowTask | None, task_location: str
) -> tuple[GoverningTaskDef, Diagnostics]:
    """The definition a worker task runs under, and where its findings go: a definition's
    findings are reported once per workflow, at the definition (`policy_findings`)."""
    governing = governing_task_def(task_name, task, emitter.task_defs, task_location)
    if not PLACEHOLDER_NAME.match(task_name):
        emitter.diagnostics.error(location, f"task name '{task_name}' cannot be part of a placeholder")
    if governing.origin == "default" and governing.location not in emitter.policy_warned:
        emitter.diagnostics.warning(location, default_definition_note(task_name))
    return governing, emitter.policy_findings(governing.location)


def emit_worker_task(emitter: WorkflowEmitter, site: EmitSite, *, permissive: bool = False) -> str | None:
    """A SIMPLE task: its worker's Lambda or activity; `permissive`: a PERMISSIVE task, whose spent
    failure is recorded as FAILED and the workflow goes on (statemachines.translator.permissive fails
    it later)."""
    task, location, states, next_name = site.task, site.location, site.states, site.next_name
    ref = task.taskReferenceName
    if task.name == ref:
        emitter.diagnostics.warning(
            f"{location}.name",
            f"name and taskReferenceName are both '{ref}': the name should be the worker's task "
            "definition name, the reference a name for this use of it",
        )
    after = ensure_outputs(emitter, ref, states, next_name)
    params = emitter.analysis.parameters(task.inputParameters, f"{location}.inputParameters")
    governing = governing_task_def(task.name, task, emitter.task_defs, location)
    template = template_inputs(task, governing.task_def)
    # the definition's inputTemplate fills the keys inputParameters leave out (getTaskInputV2)
    params |= emitter.analysis.parameters(template, f"{governing.location}.inputTemplate")
    if ref in emitter.analysis.inputs_read:
        input_name = emitter.names.allocate(f"{ref}: keep input")
        states[input_name] = link(
            {
                "Type": "Pass",
                "Comment": "Keeps the task input: another expression reads it",
                "Parameters": params,
                "ResultPath": f"$.tasks.{ref}.input",
            },
            after,
        )
        after = input_name
    warn_unmapped_workflow_task(task, emitter.diagnostics, location)
    state = lambda_state(emitter, task.name, f"{location}.name", params, task=task, task_location=location)
    state["ResultPath"] = f"$.tasks.{ref}"
    name = emitter.names.allocate(ref)
    if task.optional or permissive:
        status = "COMPLETED_WITH_ERRORS" if task.optional else "FAILED"
        state["Catch"] = [
            optional_catch(emitter, ref, states, after, errors=emitter.last_catch_errors, status=status)
        ]
    states[name] = link(state, after)
    return name


def optional_catch(
    emitter: WorkflowEmitter,
    ref: str,
    states: dict[str, Any],
    next_name: str | None,
    *,
    errors: list[str] | None = None,
    status: str = "COMPLETED_WITH_ERRORS",
) -> dict[str, Any]:
    """optional: true -> after the retries, record COMPLETED_WITH_ERRORS and carry on (a
    PERMISSIVE task records `status` FAILED the same way).

    `errors`: what the task's policy lets it catch (`TaskPolicy.optional_catch_errors`, default
    everything): a TIME_OUT_WF timeout times the workflow out even for an optional task
    (DeciderService.checkTaskTimeout throws before retry() looks at `optional`)."""
    optional = status == "COMPLETED_WITH_ERRORS"
    record = emitter.names.allocate(f"{ref}: {'completed with errors' if optional else 'failed'}")
    states[record] = link(
        {
            "Type": "Pass",
            "Comment": f"Conductor's {'optional' if optional else 'PERMISSIVE'} task: the failure "
            "is recorded, the workflow goes on",
            "Parameters": {
                "status": status,
                "output": {},
                "error.$": f"$.tasks.{ref}.failure.Error",
                "reasonForIncompletion.$": f"$.tasks.{ref}.failure.Cause",
            },
            "ResultPath": f"$.tasks.{ref}",
        },
        next_name,
    )
    caught = errors or ["States.ALL"]
    return {"ErrorEquals": caught, "ResultPath": f"$.tasks.{ref}.failure", "Next": record}


# --- SUB_WORKFLOW ------------------------------------------------------------------------------
def _child_name(emitter: WorkflowEmitter, task: WorkflowTask, location: str) -> str | None:
    child = (task.subWorkflowParam or {}).get("name")
    if not isinstance(child, str) or not child:
        emitter.diagnostics.error(f"{location}.subWorkflowParam.name", "SUB_WORKFLOW needs a workflow name")
        return None
    if child not in emitter.workflows:
        emitter.diagnostics.error(
            f"{location}.subWorkflowParam.name",
            f"sub-workflow '{child}' is not among the workflows being translated "
            f"({', '.join(sorted(emitter.workflows))})",
        )
        return None
    if not PLACEHOLDER_NAME.match(child):
        emitter.diagnostics.error(
            f"{location}.subWorkflowParam.name",
            f"workflow name '{child}' cannot be part of a definition-substitution placeholder "
            "(letters, digits and _ only)",
        )
        return None
    if child == emitter.workflow.name:
        emitter.diagnostics.error(f"{location}.subWorkflowParam.name", "a workflow cannot start itself")
        return None
    return child


def start_execution_state(emitter: WorkflowEmitter, child: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": START_EXECUTION_SYNC,
        "Comment": f"Conductor SUB_WORKFLOW '{child}'",
        "Retry": start_execution_retry(emitter.options),
    }


def emit_named_child(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    """A SUB_WORKFLOW naming a workflow of the project: started, or inlined (inline_sub_workflows)."""
    task, location, states, next_name = site.task, site.location, site.states, site.next_name
    child = _child_name(emitter, task, location)
    if child is None:
        return next_name
    if emitter.options.inline_sub_workflows:
        return emit_child(emitter, task, location, states, next_name, child=emitter.workflows[child])
    return emit_child(emitter, task, location, states, next_name, child=child)


def emit_child(
    emitter: WorkflowEmitter,
    task: WorkflowTask,
    location: str,
    states: dict[str, Any],
    next_name: str | None,
    *,
    child: str | WorkflowDef,
) -> str:
    """The states of one child workflow: started by name (startExecution.sync:2), or a
    definition translated here and inlined as a one-branch Parallel."""
    ref = task.taskReferenceName
    warn_child_policy(task, emitter.task_defs, emitter.diagnostics, location)
    after = ensure_outputs(emitter, ref, states, next_name)
    params = emitter.analysis.parameters(task.inputParameters, f"{location}.inputParameters")
    name = emitter.names.allocate(ref)
    if isinstance(child, str):
        state = child_start_state(emitter, child, ref, params)
        if task.optional:
            state["Catch"] = [optional_catch(emitter, ref, states, after)]
        states[name] = link(state, after)
        return name
    if ref in emitter.analysis.inputs_read:
        keep = emitter.names.allocate(f"{ref}: keep input")
        states[keep] = link(
            {"Type": "Pass", "Parameters": params, "ResultPath": f"$.tasks.{ref}.input"}, after
        )
        after = keep
    state = _inline_definition(emitter, child, ref, location)
    # the branch input is prepared by a Pass: cfn-lint's schema still rejects Parallel.Parameters
    prepare = emitter.names.allocate(f"{ref}: child input")
    states[prepare] = link(
        {
            "Type": "Pass",
            "Comment": "The child workflow's input",
            "Parameters": params,
            "ResultPath": f"$.tasks.{ref}.input",
        },
        name,
    )
    state["InputPath"] = f"$.tasks.{ref}.input"
    state["ResultPath"] = f"$.tasks.{ref}"
    if task.optional:
        state["Catch"] = [optional_catch(emitter, ref, states, after)]
    states[name] = link(state, after)
    return prepare


def child_start_state(
    emitter: WorkflowEmitter, child: str, ref: str, params: dict[str, Any]
) -> dict[str, Any]:
    """startExecution.sync:2 of `child` with the task's input; the child's output is the task's."""
    state = start_execution_state(emitter, child)
    state["Parameters"] = {
        "StateMachineArn": f"${{StateMachineArn_{child}}}",
        "Name.$": child_execution_name(f"'{ref}'"),
        "Input": params,
    }
    selector = {"output.$": "$.Output"}
    if ref in emitter.analysis.inputs_read:
        selector["input.$"] = "$.Input"
    state["ResultSelector"] = selector
    state["ResultPath"] = f"$.tasks.{ref}"
    return state


def _inline_definition(
    emitter: WorkflowEmitter, definition: WorkflowDef, ref: str, location: str
) -> dict[str, Any]:
    """A child workflow's translation as the single branch of a Parallel state; its findings are
    the parent's (at the SUB_WORKFLOW task `location`), whose ASL holds it."""
    child = definition.name
    child_diagnostics = Diagnostics(child)
    # a project workflow (inline_sub_workflows) is registered; an embedded workflowDefinition is not
    registered = emitter.workflows.get(child) is definition
    # the same emitter class: a child uses every construct its parent can
    child_asl = type(emitter)(
        definition,
        emitter.task_defs,
        emitter.workflows,
        emitter.options,
        child_diagnostics,
        registered=registered,
    ).emit()
    _adopt(emitter, child_diagnostics, location, registered)
    emitter.result.http_endpoints |= child_asl.http_endpoints
    branch = prefixed_states(child_asl.asl, f"{ref}/", emitter.names)
    return {
        "Type": "Parallel",
        "Comment": f"Conductor SUB_WORKFLOW '{child}', inlined",
        "Branches": [branch],
        "ResultSelector": {"output.$": "$[0]"},
    }


def _adopt(emitter: WorkflowEmitter, child: Diagnostics, location: str, registered: bool) -> None:
    """An embedded definition's findings at their place in the parent's JSON; a project
    workflow's at the task that inlines it, naming the workflow and the place in it."""
    for finding in child.items:
        if registered:
            where = f"{location}.subWorkflowParam.name"
            message = f"inlined workflow '{child.workflow}': {finding.location}: {finding.message}"
        else:
            where = f"{location}.subWorkflowParam.workflowDefinition.{finding.location}"
            message = finding.message
        adopt = emitter.diagnostics.error if finding.severity == "error" else emitter.diagnostics.warning
        adopt(where, message)


def child_execution_name(reference: str) -> str:
    """Deterministic per parent execution, redrive attempt and task reference; always 64 hex
    characters (names allow 80, and no separators). A retried StartExecution in the same attempt
    reuses the name, so it finds its child (Standard start is idempotent for the same name and input)
    instead of starting a second one. A redriven parent keeps its execution ARN but has a higher
    `$$.Execution.RedriveCount`, so its re-run items start children under new names: names of closed
    executions cannot be reused for 90 days (docs/reliability.md, "Redrive")."""
    return (
        "States.Hash(States.Format('{}/{}/{}', $$.Execution.Id, $$.Execution.RedriveCount, "
        f"{reference}), 'SHA-256')"
    )
