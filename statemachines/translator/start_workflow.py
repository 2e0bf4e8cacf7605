"""START_WORKFLOW: start another workflow and go on without waiting for it.

Conductor (`tasks/StartWorkflow.java`) reads a StartWorkflowRequest from the `startWorkflow` input
(`name`, `version`, `input`, `correlationId`, ...), starts it and completes with
`{"workflowId": <the new workflow's id>}`. Here `states:startExecution` (request-response) starts
the workflow's state machine; `workflowId` is the execution's name, as `${workflow.workflowId}` is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import PLACEHOLDER_NAME, link
from statemachines.translator.expressions import Path, field_value, parameters
from statemachines.translator.retries import start_execution_retry

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

START_EXECUTION = "arn:aws:states:::states:startExecution"
REQUEST_FIELDS = ("name", "version", "input")
# The execution name ends its ARN: arn:aws:states:<region>:<account>:execution:<machine>:<name>
EXECUTION_NAME_OF_ARN = "States.ArrayGetItem(States.StringSplit($.ExecutionArn, ':'), 7)"
# Unique per entry into the state (a loop starts a new workflow each pass) and the same for the
# retries of one entry, so a retried start finds the execution it started instead of a second one.
STARTED_NAME = (
    "States.Hash(States.Format('{}/{}/{}/{}', $$.Execution.Id, $$.Execution.RedriveCount, "
    "$$.State.Name, $$.State.EnteredTime), 'SHA-256')"
)


def emit_start_workflow(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    where = f"{site.location}.inputParameters.startWorkflow"
    request = task.inputParameters.get("startWorkflow")
    if not isinstance(request, dict):
        emitter.diagnostics.error(
            where, f"START_WORKFLOW '{ref}' needs a startWorkflow object: Conductor fails the task without"
        )
        return site.next_name
    name = _target(emitter, ref, request, where)
    if name is None:
        return site.next_name
    for key in sorted(set(request) - set(REQUEST_FIELDS)):
        emitter.diagnostics.warning(
            f"{where}.{key}", f"START_WORKFLOW '{ref}': {key} has no Step Functions equivalent: ignored"
        )
    if request.get("version") is not None:
        emitter.diagnostics.warning(
            f"{where}.version",
            f"START_WORKFLOW '{ref}': the deployed state machine of '{name}' runs whatever version it "
            "was translated from",
        )
    arguments: dict[str, Any] = {"StateMachineArn": f"${{StateMachineArn_{name}}}", "Name.$": STARTED_NAME}
    given = request.get("input", {})
    if isinstance(given, dict):
        arguments["Input"] = parameters(given, f"{where}.input", emitter.emit_scope.resolve, emitter.quiet)
    else:
        resolved = field_value(given, f"{where}.input", emitter.emit_scope.resolve, emitter.quiet)
        if not isinstance(resolved, Path) or resolved.asl.startswith("States."):
            emitter.diagnostics.error(
                f"{where}.input", f"START_WORKFLOW '{ref}': input must be an object or one expression"
            )
            return site.next_name
        arguments["Input.$"] = resolved.asl
    emitter.result.started_workflows.add(name)
    after = emitter._ensure_outputs(ref, states, site.next_name)
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": f"Conductor START_WORKFLOW '{name}': started, not waited for",
        "Resource": START_EXECUTION,
        "Parameters": arguments,
        "ResultSelector": {"output": {"workflowId.$": EXECUTION_NAME_OF_ARN}},
        "ResultPath": f"$.tasks.{ref}",
        "Retry": start_execution_retry(emitter.options),
    }
    if task.optional:
        state["Catch"] = [emitter._optional_catch(ref, states, after)]
    state_name = emitter.names.allocate(ref)
    states[state_name] = link(state, after)
    return state_name


def _target(emitter: WorkflowEmitter, ref: str, request: dict[str, Any], where: str) -> str | None:
    name = request.get("name")
    problem = None
    if not isinstance(name, str) or "${" in name:
        problem = "startWorkflow.name must be a literal workflow name"
    elif name not in emitter.workflows:
        problem = (
            f"'{name}' is not among the workflows being translated ({', '.join(sorted(emitter.workflows))})"
        )
    elif name == emitter.workflow.name:
        problem = "a workflow starting itself is not translated (its role cannot name its own ARN)"
    elif not PLACEHOLDER_NAME.match(name):
        problem = f"workflow name '{name}' cannot be part of a definition-substitution placeholder"
    if problem:
        emitter.diagnostics.error(f"{where}.name", f"START_WORKFLOW '{ref}': {problem}")
        return None
    return str(name)
