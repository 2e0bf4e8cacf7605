"""A Step Functions execution, described the way Conductor's `GET /api/workflow/{id}` describes a run.

The document is built only from DescribeExecution and GetExecutionHistory (the state machine is the
single source of truth); field names and statuses are Conductor OSS's `Workflow` and `Task` models
(`common/.../run/Workflow.java`, `common/.../metadata/tasks/Task.java`). The translator names every
state after the Conductor task it comes from (`<taskReferenceName>` or `<taskReferenceName>: ...`),
and a dynamic fork's iteration carries its item's `taskReferenceName`, so each state maps back to one
Conductor task.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Event = Mapping[str, Any]

WORKFLOW_STATUS = {
    "RUNNING": "RUNNING",
    "PENDING_REDRIVE": "RUNNING",
    "SUCCEEDED": "COMPLETED",
    "FAILED": "FAILED",
    "TIMED_OUT": "TIMED_OUT",
    "ABORTED": "TERMINATED",
}
# What happens to a task that had not ended when the execution did (Conductor cancels them).
_UNFINISHED = frozenset({"SCHEDULED", "IN_PROGRESS"})


@dataclass(frozen=True)
class TaskRef:
    """One task of the Conductor definition: what a state name maps back to."""

    reference: str
    name: str
    type: str


def task_references(definition: Mapping[str, Any] | None) -> dict[str, TaskRef]:
    """Every task of a Conductor workflow definition (forks, cases and loops included), by reference."""
    found: dict[str, TaskRef] = {}

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            reference = node.get("taskReferenceName")
            if isinstance(reference, str) and reference:
                found.setdefault(
                    reference,
                    TaskRef(reference, str(node.get("name") or reference), str(node.get("type") or "SIMPLE")),
                )
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit((definition or {}).get("tasks", []))
    return found


def millis(value: Any) -> int:
    """Epoch milliseconds of a boto3 timestamp (0 when absent, as Conductor's unset times are)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float):
        return int(value * 1000) if value < 10**11 else int(value)
    return 0


def json_or_text(text: Any) -> Any:
    """A history event's JSON text decoded; anything that is not JSON text as it is."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _as_map(value: Any) -> dict[str, Any]:
    """Conductor's inputData/outputData are maps: anything else is wrapped as Conductor wraps it."""
    if isinstance(value, dict):
        return value
    return {} if value is None else {"result": value}


def _details(event: Event) -> Mapping[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


@dataclass
class _Task:
    ref: TaskRef
    seq: int
    task_id: str
    scheduled: int
    status: str = "SCHEDULED"
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    start: int = 0
    end: int = 0
    retry_count: int = 0
    retried: bool = False
    reason: str | None = None
    sub_workflow: str | None = None
    # Listing order: (event id of the task's first state, or its dynamic fork's, item index, attempt)
    order: tuple[int, int, int] = (0, -1, 0)

    def document(
        self, workflow_id: str, workflow_name: str, priority: int, correlation_id: str | None
    ) -> dict:
        doc: dict[str, Any] = {
            "taskType": self.ref.type if self.ref.type != "SIMPLE" else self.ref.name,
            "status": self.status,
            "inputData": self.input,
            "referenceTaskName": self.ref.reference,
            "retryCount": self.retry_count,
            "seq": self.seq,
            "pollCount": 0,
            "taskDefName": self.ref.name,
            "scheduledTime": self.scheduled,
            "startTime": self.start,
            "endTime": self.end,
            "updateTime": self.end or self.start or self.scheduled,
            "retried": self.retried,
            "executed": self.status not in _UNFINISHED,
            "callbackFromWorker": True,
            "workflowInstanceId": workflow_id,
            "workflowType": workflow_name,
            "taskId": self.task_id,
            "outputData": self.output,
            "workflowPriority": priority,
        }
        if correlation_id is not None:
            doc["correlationId"] = correlation_id
        if self.reason:
            doc["reasonForIncompletion"] = self.reason
        if self.sub_workflow:
            doc["subWorkflowId"] = self.sub_workflow
        return doc


class _Builder:
    """Walks the history once, oldest first, creating one Conductor task per state group and attempt."""

    def __init__(self, execution_arn: str, refs: Mapping[str, TaskRef], events: Sequence[Event]) -> None:
        self.arn = execution_arn
        self.refs = refs
        self.events = {int(e["id"]): e for e in events}
        self.history = events
        self.tasks: list[_Task] = []
        self.by_entered: dict[int, _Task] = {}  # StateEntered event id -> task
        self.current_top: _Task | None = None  # the top-level task the execution is in

    def _ref_of(self, state: str) -> TaskRef | None:
        if state in self.refs:
            return self.refs[state]
        owners = [r for r in self.refs if state.startswith(f"{r}: ")]
        return self.refs[max(owners, key=len)] if owners else None

    def _new(self, ref: TaskRef, event: Event) -> _Task:
        task = _Task(
            ref=ref,
            seq=len(self.tasks) + 1,
            task_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.arn}#{event['id']}")),
            scheduled=millis(event.get("timestamp")),
        )
        task.order = (int(event["id"]), -1, 0)
        self.tasks.append(task)
        return task

    def _iteration_of(self, event: Event) -> tuple[int, int, int] | None:
        """(the Map state's entered event id, the iteration's item index, 0) of a dynamic fork's task,
        so its items are listed in plan order whatever order they ran in."""
        index: int | None = None
        current: Event | None = event
        while current is not None:
            kind = str(current.get("type", ""))
            if kind == "MapIterationStarted" and index is None:
                index = int(_details(current).get("index", 0))
            elif kind == "MapStateEntered" and index is not None:
                return int(current["id"]), index, 0
            previous = current.get("previousEventId")
            current = self.events.get(int(previous)) if previous else None
        return None

    def _entered_of(self, event: Event) -> int | None:
        """The id of the StateEntered event an event belongs to (previousEventId chain)."""
        current: Event | None = event
        while current is not None:
            if str(current.get("type", "")).endswith("StateEntered"):
                return int(current["id"])
            previous = current.get("previousEventId")
            current = self.events.get(int(previous)) if previous else None
        return None

    def build(self) -> list[_Task]:
        for event in self.history:
            kind = str(event.get("type", ""))
            if kind.endswith("StateEntered"):
                self._entered(event, kind)
            elif kind.startswith("Task") and not kind.startswith("TaskState"):
                self._task_event(event, kind)
            elif kind in ("MapStateSucceeded", "ParallelStateSucceeded"):
                self._close_fork("COMPLETED", event)
            elif kind in ("MapStateFailed", "ParallelStateFailed"):
                self._close_fork("FAILED", event)
            elif kind.endswith("StateExited"):
                self._exited(event)
        self.tasks.sort(key=lambda task: task.order)
        for seq, task in enumerate(self.tasks, start=1):
            task.seq = seq
        return self.tasks

    def _entered(self, event: Event, kind: str) -> None:
        details = _details(event)
        state = str(details.get("name", ""))
        state_input = json_or_text(details.get("input"))
        ref = self._ref_of(state)
        item = state_input.get("item") if isinstance(state_input, dict) else None
        if kind == "TaskStateEntered" and state not in self.refs and isinstance(item, dict):
            # A dynamic fork's iteration: the item names its own reference, task and input.
            child = TaskRef(
                str(item.get("taskReferenceName") or state),
                str(item.get("subWorkflowName") or item.get("name") or state),
                str(item.get("type") or "SIMPLE"),
            )
            task = self._new(child, event)
            task.order = self._iteration_of(event) or task.order
            task.input = _as_map(item.get("input"))
            self.by_entered[int(event["id"])] = task
            return
        if ref is None:
            self._leave_top(event)
            return
        top = self.current_top
        # A helper state of the running task ("<ref>: check 1"), or a control-flow state re-entered.
        if (
            top is not None
            and top.ref.reference == ref.reference
            and (state != ref.reference or kind != "TaskStateEntered" or top.status in _UNFINISHED)
        ):
            self.by_entered[int(event["id"])] = top
            return
        self._leave_top(event)
        task = self._new(ref, event)
        task.status = "IN_PROGRESS"
        task.start = task.scheduled
        if kind == "TaskStateEntered":
            task.status = "SCHEDULED"
            task.start = 0
        self.current_top = task
        self.by_entered[int(event["id"])] = task

    def _leave_top(self, event: Event) -> None:
        """The execution moved on: a control-flow task (JOIN, SWITCH, ...) that had not ended, did."""
        top = self.current_top
        if top is not None and top.status in _UNFINISHED and top.ref.type not in ("SIMPLE", "SUB_WORKFLOW"):
            top.status = "COMPLETED"
            top.end = millis(event.get("timestamp"))
        self.current_top = None

    def _close_fork(self, status: str, event: Event) -> None:
        """A Map/Parallel state ended: its fork task ends with it (found up the previousEventId chain)."""
        current: Event | None = event
        task = None
        while current is not None and task is None:
            if str(current.get("type", "")) in ("MapStateEntered", "ParallelStateEntered"):
                task = self.by_entered.get(int(current["id"]))
            previous = current.get("previousEventId")
            current = self.events.get(int(previous)) if previous else None
        if task is not None and task.status in _UNFINISHED:
            task.status = status
            task.end = millis(event.get("timestamp"))

    def _exited(self, event: Event) -> None:
        """A control-flow task's output is what the translated context holds for its reference."""
        details = _details(event)
        output = json_or_text(details.get("output"))
        if not isinstance(output, dict) or not isinstance(output.get("tasks"), dict):
            return
        for task in self.tasks:
            if task.ref.type in ("SIMPLE", "SUB_WORKFLOW"):
                continue
            entry = output["tasks"].get(task.ref.reference)
            if isinstance(entry, dict) and isinstance(entry.get("output"), dict) and entry["output"]:
                task.output = entry["output"]

    def _task_event(self, event: Event, kind: str) -> None:
        entered = self._entered_of(event)
        task = self.by_entered.get(entered) if entered is not None else None
        if task is None:
            return
        details = _details(event)
        stamp = millis(event.get("timestamp"))
        if kind == "TaskScheduled":
            if task.status not in _UNFINISHED:  # a Retry: Conductor schedules a new task per attempt
                retry = self._new(task.ref, event)
                retry.retry_count = task.retry_count + 1
                retry.order = (*task.order[:2], retry.retry_count)
                task.retried = True
                self.by_entered[int(entered)] = retry  # type: ignore[arg-type]
                if self.current_top is task:
                    self.current_top = retry
                task = retry
            parameters = json_or_text(details.get("parameters"))
            if isinstance(parameters, dict):
                payload = parameters.get("Payload", json_or_text(parameters.get("Input")))
                task.input = _as_map(payload if payload is not None else task.input)
            task.scheduled = task.scheduled or stamp
        elif kind == "TaskStarted":
            task.status, task.start = "IN_PROGRESS", stamp
        elif kind == "TaskSucceeded":
            output = json_or_text(details.get("output"))
            if isinstance(output, dict) and "Payload" in output:
                output = output["Payload"]
            elif isinstance(output, dict) and "ExecutionArn" in output:
                task.sub_workflow = str(output["ExecutionArn"]).rsplit(":", 1)[-1]
                output = json_or_text(output.get("Output"))
            task.status, task.end, task.output = "COMPLETED", stamp, _as_map(output)
        elif kind in ("TaskFailed", "TaskStartFailed", "TaskSubmitFailed"):
            task.status, task.end = "FAILED", stamp
            task.reason = _reason(details)
        elif kind == "TaskTimedOut":
            task.status, task.end = "TIMED_OUT", stamp
            task.reason = _reason(details) or "the task timed out"


def readable_cause(cause: Any) -> str | None:
    """Lambda failures carry a JSON cause (errorMessage, stackTrace): keep the message."""
    if not isinstance(cause, str):
        return None if cause is None else str(cause)
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, Mapping) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause


def _reason(details: Mapping[str, Any]) -> str | None:
    """`<error>: <cause>`, a Lambda error's JSON cause reduced to its message."""
    error, cause = details.get("error"), readable_cause(details.get("cause"))
    parts = [str(p) for p in (error, cause) if p]
    return ": ".join(parts) if parts else None


@dataclass(frozen=True)
class RunMetadata:
    """What Conductor records at start that Step Functions has no field for (kept by the API process)."""

    correlation_id: str | None = None
    priority: int = 0
    # The `reason` of DELETE /api/workflow/{id}: StopExecution's cause, which moto 5.2.5 drops
    # (its StopExecution ignores error and cause; AWS records them in ExecutionAborted).
    terminate_reason: str | None = None


def workflow_document(
    described: Mapping[str, Any],
    events: Sequence[Event],
    *,
    workflow_name: str,
    workflow_version: int,
    definition: Mapping[str, Any] | None,
    metadata: RunMetadata = RunMetadata(),
    include_tasks: bool = True,
) -> dict[str, Any]:
    """Conductor's `Workflow` for one execution (DescribeExecution + its history)."""
    arn = str(described["executionArn"])
    workflow_id = str(described.get("name") or arn.rsplit(":", 1)[-1])
    status = WORKFLOW_STATUS.get(str(described.get("status")), "RUNNING")
    tasks = _Builder(arn, task_references(definition), events).build()
    end = millis(described.get("stopDate"))
    if status != "RUNNING":
        for task in tasks:
            if task.status in _UNFINISHED:
                if status == "COMPLETED" and task.ref.type not in ("SIMPLE", "SUB_WORKFLOW"):
                    task.status = "COMPLETED"
                else:
                    task.status = "CANCELED"
                task.end = task.end or end
    failed = [t for t in tasks if t.status in ("FAILED", "TIMED_OUT") and not t.retried]
    doc: dict[str, Any] = {
        "workflowId": workflow_id,
        "workflowName": workflow_name,
        "workflowVersion": workflow_version,
        "workflowType": workflow_name,
        "version": workflow_version,
        "status": status,
        "createTime": millis(described.get("startDate")),
        "startTime": millis(described.get("startDate")),
        "endTime": end,
        "updateTime": end or max((t.end or t.start or t.scheduled for t in tasks), default=0),
        "input": _as_map(json_or_text(described.get("input"))),
        "output": _as_map(json_or_text(described.get("output"))) if status == "COMPLETED" else {},
        "priority": metadata.priority,
        "taskToDomain": {},
        "variables": {},
        "failedReferenceTaskNames": sorted({t.ref.reference for t in failed}),
        "failedTaskNames": sorted({t.ref.name for t in failed}),
        "schemaVersion": 2,
        "tasks": [
            t.document(workflow_id, workflow_name, metadata.priority, metadata.correlation_id) for t in tasks
        ]
        if include_tasks
        else [],
    }
    if metadata.correlation_id is not None:
        doc["correlationId"] = metadata.correlation_id
    reason = _execution_reason(described, events) or (
        metadata.terminate_reason if status == "TERMINATED" else None
    )
    if reason and status != "COMPLETED":
        doc["reasonForIncompletion"] = reason
    return doc


def _execution_reason(described: Mapping[str, Any], events: Sequence[Event]) -> str | None:
    for event in reversed(events):
        if str(event.get("type", "")) in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            reason = _reason(_details(event))
            if reason:
                return reason
    return _reason({"error": described.get("error"), "cause": described.get("cause")})
