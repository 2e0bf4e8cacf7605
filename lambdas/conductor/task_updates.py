"""Conductor's task update API as Step Functions' task-token calls.

Two requests (conductor-oss/conductor, rest/.../controllers/TaskResource.java): `POST /api/tasks` with
a `TaskResult` body (`workflowInstanceId`, `taskId`, `status`, `outputData`,
`reasonForIncompletion`; common/.../metadata/tasks/TaskResult.java), and
`POST /api/tasks/{workflowId}/{taskRefName}/{status}` with the task's output as the body. Both answer
the task id as text/plain. imgpipe also takes `referenceTaskName` in place of `taskId` in a
TaskResult (the status document's `taskId` is derived from the history, so a caller may not have it).

Only a task that waits for its token can be updated (HUMAN, and WAIT without duration/until:
lambdas/conductor/callbacks.py); a SIMPLE task's result is its Lambda invocation's. The statuses map
to (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html and its
SendTaskFailure and SendTaskHeartbeat siblings):
- COMPLETED: SendTaskSuccess with `outputData` as the output (the task's output, as in Conductor);
- FAILED / FAILED_WITH_TERMINAL_ERROR: SendTaskFailure, error `Conductor.FAILED` /
  `Conductor.FAILED_WITH_TERMINAL_ERROR`, cause `reasonForIncompletion`;
- IN_PROGRESS: SendTaskHeartbeat. Step Functions keeps nothing of a waiting task but its token, so
  IN_PROGRESS with `outputData` is refused rather than dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from lambdas.conductor.callbacks import FAILED_ERROR, TERMINAL_ERROR
from lambdas.conductor.errors import ConductorError, refused
from lambdas.core.limits import STATE_PAYLOAD_BYTES

TaskResultStatus = Literal["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "IN_PROGRESS"]
STATUSES: tuple[str, ...] = get_args(TaskResultStatus)
# SendTaskSuccess's output: at most a state's payload; SendTaskFailure's cause: "Maximum length of
# 32768" (the API pages above, and botocore's stepfunctions service model).
MAX_TASK_OUTPUT = STATE_PAYLOAD_BYTES
# A request body: the output plus a TaskResult's few other fields.
MAX_TASK_UPDATE_BYTES = MAX_TASK_OUTPUT + 16 * 1024
# TaskResult.setReasonForIncompletion keeps the first 500 characters (within the cause's 32768).
MAX_REASON = 500
STEP_FUNCTIONS_CALL = {
    "COMPLETED": "SendTaskSuccess",
    "FAILED": "SendTaskFailure",
    "FAILED_WITH_TERMINAL_ERROR": "SendTaskFailure",
    "IN_PROGRESS": "SendTaskHeartbeat",
}
FAILURE_ERRORS = {"FAILED": FAILED_ERROR, "FAILED_WITH_TERMINAL_ERROR": TERMINAL_ERROR}
# Conductor task statuses of a task that has not ended (lambdas/conductor/status.py).
WAITING_STATUSES = frozenset({"SCHEDULED", "IN_PROGRESS"})


@dataclass(frozen=True)
class TaskUpdate:
    """One validated update: the task by id or by reference, its new status and what comes with it."""

    workflow_id: str
    status: TaskResultStatus
    task_id: str | None = None
    task_ref: str | None = None
    output: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    @property
    def task(self) -> str:
        """How the request named the task (for messages)."""
        return self.task_id or self.task_ref or "?"


def _status(value: Any, path: str) -> TaskResultStatus:
    if value not in STATUSES:
        refused(
            [
                {
                    "path": path,
                    "message": f"must be one of {', '.join(STATUSES)}",
                    "invalidValue": str(value)[:100],
                }
            ]
        )
    return cast(TaskResultStatus, value)


def _checked(update: TaskUpdate, output_path: str) -> TaskUpdate:
    if update.status == "IN_PROGRESS" and update.output:
        refused(
            [
                {
                    "path": output_path,
                    "message": "IN_PROGRESS is a heartbeat: Step Functions keeps no output for a waiting "
                    "task; send the output with COMPLETED",
                }
            ]
        )
    if len(json.dumps(update.output).encode()) > MAX_TASK_OUTPUT:
        raise ConductorError(
            413, f"{output_path} is over {MAX_TASK_OUTPUT} bytes, SendTaskSuccess's output quota"
        )
    return update


def update_from_body(body: Any) -> TaskUpdate:
    """`POST /api/tasks`: a TaskResult; `workflowInstanceId`, `status` and a task are required."""
    if not isinstance(body, dict):
        refused([{"path": "body", "message": "a TaskResult is a JSON object"}])
    problems = []
    for name in ("workflowInstanceId", "taskId", "referenceTaskName", "reasonForIncompletion"):
        if body.get(name) is not None and not isinstance(body[name], str):
            problems.append({"path": name, "message": "must be a string"})
    if not body.get("workflowInstanceId"):
        problems.append({"path": "workflowInstanceId", "message": "Workflow Id cannot be null or empty"})
    if not body.get("taskId") and not body.get("referenceTaskName"):
        problems.append(
            {"path": "taskId", "message": "Task ID (or referenceTaskName) cannot be null or empty"}
        )
    output = {} if body.get("outputData") is None else body["outputData"]
    if not isinstance(output, dict):
        problems.append({"path": "outputData", "message": "must be a JSON object"})
    if problems:
        refused(problems)
    update = TaskUpdate(
        workflow_id=body["workflowInstanceId"],
        status=_status(body.get("status"), "status"),
        task_id=body.get("taskId") or None,
        task_ref=body.get("referenceTaskName") or None,
        output=output,
        reason=(body.get("reasonForIncompletion") or "")[:MAX_REASON],
    )
    return _checked(update, "outputData")


def update_from_path(workflow_id: str, task_ref: str, status: str, output: Any) -> TaskUpdate:
    """`POST /api/tasks/{workflowId}/{taskRefName}/{status}` with the output as the body."""
    if not isinstance(output, dict):
        refused([{"path": "body", "message": "the task output is a JSON object"}])
    update = TaskUpdate(workflow_id, _status(status, "status"), task_ref=task_ref, output=output)
    return _checked(update, "body")


def send_update(sfn: Any, token: str, update: TaskUpdate) -> None:
    """The Step Functions call of one update (botocore's ClientError propagates)."""
    if update.status == "COMPLETED":
        sfn.send_task_success(taskToken=token, output=json.dumps(update.output))
    elif update.status == "IN_PROGRESS":
        sfn.send_task_heartbeat(taskToken=token)
    else:
        sfn.send_task_failure(taskToken=token, error=FAILURE_ERRORS[update.status], cause=update.reason)
