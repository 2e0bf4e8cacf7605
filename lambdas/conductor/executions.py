"""Conductor's start/status/terminate/retry calls as Step Functions API calls, on any catalog of
deployed workflows: the `conductor_api` Lambda's (from its environment) and `imgpipe serve`'s (its
registry). The state machines stay the only record of a run; Conductor-only fields (correlationId,
priority) are kept only where the caller has somewhere to keep them.

Express executions are started like Standard ones, but Step Functions cannot read them back:
DescribeExecution does not support them ("Executions of an EXPRESS state machine aren't supported by
DescribeExecution unless a Map Run dispatched them",
https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html), nor do
GetExecutionHistory, StopExecution and RedriveExecution ("This API action is not supported by EXPRESS
state machines", https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html).
Their outcome is only in the state machine's CloudWatch Logs, so a status, terminate or retry of one
is answered 404 saying so.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn, Protocol

from botocore.exceptions import ClientError

from lambdas.conductor.callbacks import latest_callback_token
from lambdas.conductor.errors import ConductorError, not_found, refused
from lambdas.conductor.status import WORKFLOW_STATUS, RunMetadata, workflow_document
from lambdas.conductor.task_updates import STEP_FUNCTIONS_CALL, WAITING_STATUSES, TaskUpdate, send_update
from lambdas.core.limits import STATE_PAYLOAD_BYTES

MAX_EXECUTION_INPUT_BYTES = STATE_PAYLOAD_BYTES
# StopExecution's cause: "Length Constraints: Minimum length of 0. Maximum length of 32768"
# (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html).
MAX_STOP_CAUSE = 32768
MAX_CORRELATION_ID = 256
# Conductor names in URLs: what WorkflowDef accepts for a name (statemachines/translator/model.py).
NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
EXECUTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_-]{1,80}:[A-Za-z0-9_-]{1,80}$"
)
PRIORITY_RANGE = range(0, 100)  # Workflow.priority: @Min(0) @Max(99)
RESTARTABLE = frozenset({"FAILED", "TIMED_OUT", "TERMINATED"})
# Step Functions errors -> the HTTP status Conductor's clients understand.
SERVICE_ERROR_STATUS = {
    "ExecutionDoesNotExist": 404,
    "StateMachineDoesNotExist": 404,
    "ExecutionNotRedrivable": 409,
    "ExecutionAlreadyExists": 409,
    "ExecutionLimitExceeded": 429,
    "ThrottlingException": 429,
    "InvalidExecutionInput": 400,
    "InvalidName": 400,
    "InvalidArn": 400,
    "ValidationException": 400,
    # a task token whose wait has ended (SendTaskSuccess/Failure/Heartbeat)
    "TaskDoesNotExist": 409,
    "TaskTimedOut": 409,
    "InvalidToken": 409,
    "InvalidOutput": 400,
}


@dataclass(frozen=True)
class WorkflowTarget:
    """One deployed workflow: its Conductor name and version, its state machine, and the tasks of its
    definition (`{"tasks": [{"taskReferenceName", "name", "type"}, ...]}`, what the status maps to)."""

    name: str
    version: int
    state_machine_arn: str
    definition: Mapping[str, Any] = field(default_factory=dict)
    express: bool = False


class Catalog(Protocol):
    """The workflows an API answers for."""

    def target(self, name: str, version: int | None) -> WorkflowTarget:
        """The workflow by name (and version when given); raises a 404 ConductorError otherwise."""
        ...

    def targets(self) -> Iterable[WorkflowTarget]: ...


@dataclass(frozen=True)
class StartRequest:
    """Conductor's StartWorkflowRequest, validated."""

    name: str
    version: int | None = None
    correlation_id: str | None = None
    priority: int = 0
    input: Any = field(default_factory=dict)


def checked_name(value: str, what: str) -> str:
    if not NAME.fullmatch(value):
        refused(
            [
                {
                    "path": what,
                    "message": "must be 1-80 letters, digits, '_' or '-'",
                    "invalidValue": value[:100],
                }
            ]
        )
    return value


def query_int(args: Mapping[str, str] | None, name: str, default: int | None) -> int | None:
    raw = (args or {}).get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        refused([{"path": name, "message": "must be an integer", "invalidValue": raw[:100]}])


def query_flag(args: Mapping[str, str] | None, name: str, default: bool) -> bool:
    raw = (args or {}).get(name)
    return default if raw is None else raw.strip().lower() in ("true", "1", "yes")


def start_request_from_query(name: str, args: Mapping[str, str] | None, workflow_input: Any) -> StartRequest:
    """`POST /api/workflow/{name}?version=&correlationId=&priority=` with the input as body."""
    return StartRequest(
        name=name,
        version=query_int(args, "version", None),
        correlation_id=(args or {}).get("correlationId"),
        priority=query_int(args, "priority", 0) or 0,
        input=workflow_input,
    )


def start_request_from_body(body: Any) -> StartRequest:
    """`POST /api/workflow` with a StartWorkflowRequest; the fields imgpipe cannot honour are refused."""
    if not isinstance(body, dict):
        refused([{"path": "body", "message": "a StartWorkflowRequest is a JSON object"}])
    for unsupported in ("workflowDef", "externalInputPayloadStoragePath", "taskToDomain", "idempotencyKey"):
        if body.get(unsupported):
            raise ConductorError(
                501,
                f"StartWorkflowRequest.{unsupported} is not supported: "
                "register the workflow, then start it by name",
            )
    name = body.get("name")
    if not isinstance(name, str):
        refused([{"path": "name", "message": "the workflow name is required"}])
    version, priority, correlation_id = (
        body.get("version"),
        body.get("priority", 0),
        body.get("correlationId"),
    )
    for key, value, kind in (
        ("version", version, int),
        ("priority", priority, int),
        ("correlationId", correlation_id, str),
    ):
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            refused([{"path": key, "message": f"must be {'an integer' if kind is int else 'a string'}"}])
    return StartRequest(name, version, correlation_id, priority or 0, body.get("input", {}))


def service_error(error: ClientError, call: str) -> NoReturn:
    """A Step Functions error as Conductor's ErrorResponse (throttling is retryable, as for the SDKs)."""
    code = str(error.response.get("Error", {}).get("Code", "")).split("#")[-1]
    message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
    status = SERVICE_ERROR_STATUS.get(code, 502)
    raise ConductorError(
        status,
        f"Step Functions {call}: {code}: {message}"[:1000],
        retryable=status == 429,
        service_code=code,
    )


def execution_events(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of an execution, oldest first (GetExecutionHistory, every page)."""
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 1000}
    )
    return [event for page in pages for event in page["events"]]


class Executions:
    """Start/read/stop/redrive through the Step Functions API.

    ``metadata``: where the correlationId, priority and terminate reason of the runs this process
    started are kept, when the caller keeps them (`imgpipe serve`); a stateless Lambda passes None
    and the status document then has priority 0 and no correlationId.
    """

    def __init__(
        self, sfn: Any, catalog: Catalog, metadata: MutableMapping[str, RunMetadata] | None = None
    ) -> None:
        self.sfn = sfn
        self.catalog = catalog
        self.metadata = metadata

    def start(self, request: StartRequest) -> str:
        """StartExecution, named by a new UUID: that name is the Conductor workflow id."""
        checked_name(request.name, "name")
        if request.priority not in PRIORITY_RANGE:
            refused([{"path": "priority", "message": "must be 0..99", "invalidValue": str(request.priority)}])
        if request.correlation_id is not None and len(request.correlation_id) > MAX_CORRELATION_ID:
            refused([{"path": "correlationId", "message": f"at most {MAX_CORRELATION_ID} characters"}])
        if not isinstance(request.input, dict):
            refused([{"path": "input", "message": "the workflow input is a JSON object"}])
        target = self.catalog.target(request.name, request.version)
        payload = json.dumps(request.input)
        if len(payload.encode()) > MAX_EXECUTION_INPUT_BYTES:
            raise ConductorError(
                413,
                f"the input is over {MAX_EXECUTION_INPUT_BYTES} bytes, Step Functions' execution input quota",
            )
        workflow_id = str(uuid.uuid4())
        if self.metadata is not None:
            self.metadata[workflow_id] = RunMetadata(request.correlation_id, request.priority)
        try:
            self.sfn.start_execution(
                stateMachineArn=target.state_machine_arn, name=workflow_id, input=payload
            )
        except ClientError as error:
            service_error(error, "StartExecution")
        return workflow_id

    def arn(self, workflow_id: str) -> str:
        """The execution a Conductor workflow id names: its execution name (or its full ARN), looked
        up among the catalog's Standard state machines."""
        standard = [t for t in self.catalog.targets() if not t.express]
        if EXECUTION_ARN.fullmatch(workflow_id):
            machine = workflow_id.replace(":execution:", ":stateMachine:", 1).rsplit(":", 1)[0]
            candidates = [workflow_id] if machine in {t.state_machine_arn for t in standard} else []
        else:
            checked_name(workflow_id, "workflowId")
            candidates = [
                t.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{workflow_id}"
                for t in standard
            ]
        for candidate in candidates:
            try:
                self.sfn.describe_execution(executionArn=candidate)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                    continue
                service_error(error, "DescribeExecution")
            return candidate
        express = sorted(t.name for t in self.catalog.targets() if t.express)
        hint = (
            f"; executions of the Express workflows ({', '.join(express)}) cannot be read back: "
            "Step Functions' DescribeExecution and GetExecutionHistory do not support them, "
            "their outcome is in the state machine's CloudWatch Logs"
            if express
            else ""
        )
        not_found(f"No such workflow found by id: {workflow_id}{hint}")

    def _target_of(self, state_machine_arn: str) -> WorkflowTarget | None:
        return next((t for t in self.catalog.targets() if t.state_machine_arn == state_machine_arn), None)

    def document(self, workflow_id: str, include_tasks: bool) -> dict[str, Any]:
        """Conductor's Workflow for the execution (DescribeExecution + GetExecutionHistory)."""
        return self._read(workflow_id, include_tasks)[0]

    def _read(self, workflow_id: str, include_tasks: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The status document and the history it was built from, oldest event first."""
        arn = self.arn(workflow_id)
        try:
            described = self.sfn.describe_execution(executionArn=arn)
            events = execution_events(self.sfn, arn)  # failedReferenceTaskNames need it even without tasks
        except ClientError as error:
            service_error(error, "DescribeExecution/GetExecutionHistory")
        target = self._target_of(described["stateMachineArn"])
        document = workflow_document(
            described,
            events,
            workflow_name=target.name if target else described["stateMachineArn"],
            workflow_version=target.version if target else 1,
            definition=target.definition if target else None,
            metadata=(self.metadata or {}).get(described["name"], RunMetadata()),
            include_tasks=include_tasks,
        )
        return document, events

    def update_task(self, update: TaskUpdate) -> str:
        """Conductor's task update: the task's latest attempt, found by id or reference in the status
        document, answered through its task token (lambdas/conductor/task_updates.py); the task id."""
        document, events = self._read(update.workflow_id, include_tasks=True)
        tasks = [
            task
            for task in document["tasks"]
            if task["taskId"] == update.task_id
            or (update.task_id is None and task["referenceTaskName"] == update.task_ref)
        ]
        if not tasks:
            not_found(f"No such task {update.task} in workflow {update.workflow_id}")
        task = tasks[-1]
        reference = str(task["referenceTaskName"])
        token = latest_callback_token(reversed(events), reference)
        if token is None:
            raise ConductorError(
                409,
                f"task {reference} ({task['taskType']}) does not wait to be completed from outside: only "
                "HUMAN tasks and WAIT tasks without duration or until do; a SIMPLE task's result is its "
                "Lambda invocation's",
            )
        if task["status"] not in WAITING_STATUSES:
            raise ConductorError(
                409, f"task {reference} of workflow {update.workflow_id} is already {task['status']}"
            )
        try:
            send_update(self.sfn, token, update)
        except ClientError as error:
            service_error(error, STEP_FUNCTIONS_CALL[update.status])
        return str(task["taskId"])

    def terminate(self, workflow_id: str, reason: str | None) -> None:
        """StopExecution with the reason as its cause (a running execution only, as Conductor)."""
        arn = self.arn(workflow_id)
        try:
            status = self.sfn.describe_execution(executionArn=arn)["status"]
            if status != "RUNNING":
                raise ConductorError(
                    409, f"Workflow {workflow_id} is not running (Step Functions status {status})"
                )
            cause = (reason or "terminated")[:MAX_STOP_CAUSE]
            if self.metadata is not None:
                name = arn.rsplit(":", 1)[-1]
                self.metadata[name] = replace(self.metadata.get(name, RunMetadata()), terminate_reason=cause)
            self.sfn.stop_execution(executionArn=arn, error="TERMINATED", cause=cause)
        except ClientError as error:
            service_error(error, "StopExecution")

    def retry(self, workflow_id: str) -> None:
        """RedriveExecution: a FAILED, TIMED_OUT or TERMINATED Standard execution continues from its
        failed state with the same input and execution ARN (the API page in the module docstring)."""
        arn = self.arn(workflow_id)
        try:
            status = WORKFLOW_STATUS.get(
                str(self.sfn.describe_execution(executionArn=arn)["status"]), "RUNNING"
            )
            if status not in RESTARTABLE:
                raise ConductorError(
                    409,
                    f"Workflow {workflow_id} is {status}: "
                    "only a FAILED, TIMED_OUT or TERMINATED one is retried",
                )
            self.sfn.redrive_execution(executionArn=arn)
        except ClientError as error:
            service_error(error, "RedriveExecution")
