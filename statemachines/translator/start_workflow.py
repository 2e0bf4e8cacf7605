"""START_WORKFLOW: start another workflow and go on without waiting for it.

Conductor (`tasks/StartWorkflow.java`) reads a StartWorkflowRequest from the `startWorkflow` input
(`name`, `version`, `input`, `correlationId`, ...), starts it and completes with
`{"workflowId": <the new workflow's id>}`. Here `states:startExecution` (request-response) starts
the workflow's state machine; `workflowId` is the execution's name, as `${workflow.workflowId}` is.
A request given as one expression (`"startWorkflow": "${workflow.input.request}"`) is read at run
time: a Choice over the workflows its `name` may name (translator option `sub_workflow_targets`, else
every other workflow), and a request Conductor fails on (none, no string `name`, an unknown name, a
null `input` or one that is not an object) fails the task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import PLACEHOLDER_NAME, link, route_by_name
from statemachines.translator.expressions import Path, path_of
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.retries import start_execution_retry
from statemachines.translator.sub_workflow import workflow_targets
from statemachines.translator.task_states import optional_catch

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
# what StartWorkflow.getRequest and StartWorkflowOperation fail the task on, for a run-time request
INVALID_REQUEST = "Conductor.InvalidStartWorkflowRequest"
START_INPUT = "startInput"  # $.tasks.<ref>.startInput: a run-time request's input, {} when it has none
REQUEST = "request"  # $.tasks.<ref>.request: a request object whose name is an expression, resolved


def emit_start_workflow(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    where = f"{site.location}.inputParameters.startWorkflow"
    request = task.inputParameters.get("startWorkflow")
    if isinstance(request, str) and "${" in request:
        return _emit_requested_at_run_time(emitter, site, request, where)
    if not isinstance(request, dict):
        emitter.diagnostics.error(
            where,
            f"START_WORKFLOW '{ref}' needs a startWorkflow object or one expression giving it: "
            "Conductor fails the task without",
        )
        return site.next_name
    if isinstance(request.get("name"), str) and "${" in request["name"]:
        return _emit_named_at_run_time(emitter, site, request, where)
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
        arguments["Input"] = emitter.analysis.parameters(given, f"{where}.input")
    else:
        resolved = emitter.analysis.value(given, f"{where}.input")
        if not isinstance(resolved, Path) or resolved.asl.startswith("States."):
            emitter.diagnostics.error(
                f"{where}.input", f"START_WORKFLOW '{ref}': input must be an object or one expression"
            )
            return site.next_name
        arguments["Input.$"] = resolved.asl
    after = ensure_outputs(emitter, ref, states, site.next_name)
    state_name = emitter.names.allocate(ref)
    states[state_name] = _start_state(emitter, site, name, arguments, after)
    return state_name


def _start_state(
    emitter: WorkflowEmitter, site: EmitSite, name: str, arguments: dict[str, Any], after: str | None
) -> dict[str, Any]:
    ref = site.task.taskReferenceName
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": f"Conductor START_WORKFLOW '{name}': started, not waited for",
        "Resource": START_EXECUTION,
        "Parameters": arguments,
        "ResultSelector": {"output": {"workflowId.$": EXECUTION_NAME_OF_ARN}},
        "ResultPath": f"$.tasks.{ref}",
        "Retry": start_execution_retry(emitter.options),
    }
    if site.task.optional:
        state["Catch"] = [optional_catch(emitter, ref, site.states, after)]
    return link(state, after)


def _emit_requested_at_run_time(
    emitter: WorkflowEmitter, site: EmitSite, expression: str, where: str
) -> str | None:
    """Conductor converts the resolved `startWorkflow` to a StartWorkflowRequest: `name` required,
    `input` a map (an empty one when absent); anything else fails the task (StartWorkflow.getRequest)."""
    ref = site.task.taskReferenceName
    resolved = emitter.analysis.value(expression, where)
    if not isinstance(resolved, Path) or resolved.asl.startswith("States."):
        emitter.diagnostics.error(
            where,
            f"START_WORKFLOW '{ref}': startWorkflow must be an object or one expression (a Choice "
            "compares the name it gives)",
        )
        return site.next_name
    return _start_requested(emitter, site, resolved.asl, where)


def _emit_named_at_run_time(
    emitter: WorkflowEmitter, site: EmitSite, request: dict[str, Any], where: str
) -> str | None:
    """A request object whose `name` is an expression: resolved by a Pass into the context, then
    started as a run-time request (the name and input Conductor resolves, read there)."""
    ref = site.task.taskReferenceName
    resolved = emitter.analysis.parameters(request, where)
    start = _start_requested(emitter, site, path_of(("tasks", ref, REQUEST)), where)
    if start is site.next_name:  # refused: reported
        return start
    resolve = emitter.names.allocate(f"{ref}: request")
    site.states[resolve] = {
        "Type": "Pass",
        "Parameters": resolved,
        "ResultPath": path_of(("tasks", ref, REQUEST)),
        "Next": start,
    }
    return resolve


def _start_requested(emitter: WorkflowEmitter, site: EmitSite, request: str, where: str) -> str | None:
    """The states that start the workflow the request at JSONPath `request` names."""
    ref, states = site.task.taskReferenceName, site.states
    targets = workflow_targets(emitter, "START_WORKFLOW", ref, where)
    if targets is None:
        return site.next_name
    emitter.diagnostics.warning(
        where,
        f"START_WORKFLOW '{ref}': the request is read at run time; its name and input are used, its "
        "other fields (version, correlationId, workflowDef, ...) are ignored",
    )
    after = ensure_outputs(emitter, ref, states, site.next_name)
    start_input = path_of(("tasks", ref, START_INPUT))
    routes: dict[str, str] = {}
    for name in targets:
        arguments = {
            "StateMachineArn": f"${{StateMachineArn_{name}}}",
            "Name.$": STARTED_NAME,
            "Input.$": start_input,
        }
        routes[name] = emitter.names.allocate(f"{ref}: {name}")
        states[routes[name]] = _start_state(emitter, site, name, arguments, after)
    cause = f"START_WORKFLOW {ref}: the request needs a string name among {', '.join(targets)}"
    route = route_by_name(
        states,
        emitter.names,
        f"{ref}: which workflow?",
        f"{request}.name",
        routes,
        failure=(f"{ref}: invalid request", INVALID_REQUEST, cause),
    )
    if site.task.optional:  # Conductor fails the task, and an optional task's failure is recorded
        fail = states[route]["Default"]
        states[fail] = {
            "Type": "Pass",
            "Parameters": {"Error": INVALID_REQUEST, "Cause": cause},
            "ResultPath": path_of(("tasks", ref, "failure")),
            "Next": optional_catch(emitter, ref, states, after)["Next"],
        }
    return _take_input(emitter, ref, request, states, route)


def _take_input(emitter: WorkflowEmitter, ref: str, request: str, states: dict[str, Any], route: str) -> str:
    """Copies the request's input to `$.tasks.<ref>.startInput`, `{}` when it has none (the
    request's default); no name, or a null, string, number or boolean input, goes to the failure (an
    array is not told apart from an object: ASL's Choice has no object test)."""
    given, target = f"{request}.input", path_of(("tasks", ref, START_INPUT))
    copy = emitter.names.allocate(f"{ref}: request input")
    states[copy] = {"Type": "Pass", "InputPath": given, "ResultPath": target, "Next": route}
    empty = emitter.names.allocate(f"{ref}: no request input")
    states[empty] = {"Type": "Pass", "Result": {}, "ResultPath": target, "Next": route}
    fail = states[route]["Default"]
    check = emitter.names.allocate(f"{ref}: request input?")
    scalar = [{"Variable": given, test: True} for test in ("IsString", "IsNumeric", "IsBoolean")]
    states[check] = {
        "Type": "Choice",
        "Choices": [  # in order: each rule reads only what the rules before it showed is there
            {"Not": {"Variable": f"{request}.name", "IsPresent": True}, "Next": fail},
            {"Not": {"Variable": given, "IsPresent": True}, "Next": empty},
            # StartWorkflowOperation.validateWorkflow: "NULL input passed when starting workflow"
            {"Or": [{"Variable": given, "IsNull": True}, *scalar], "Next": fail},
        ],
        "Default": copy,
    }
    return check


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
