"""What each state of an execution did, read from its Step Functions history.

One `StateRun` per StateEntered event (a state inside a Map runs once per iteration): its input,
output, error and cause, task attempts and timings. Events are tied to their run by following
previousEventId back to the StateEntered event, as Step Functions links them; the events that end a
Map or Parallel state, or start a Map item, follow the last event of a branch or of another item, so
they are tied to their container by name instead.
Node statuses for the graph are the runs of a node's states taken together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imgpipe.local.results import SCHEDULED, _details, readable_cause
from lambdas.conductor.status import json_or_text

Event = Mapping[str, Any]

RUNNING, SUCCEEDED, FAILED, CAUGHT, ABORTED, NOT_STARTED = (
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "CAUGHT",
    "ABORTED",
    "NOT_STARTED",
)
# The status a node shows when its states' runs differ: the first in this order that any run has.
PRECEDENCE = (RUNNING, FAILED, ABORTED, CAUGHT, SUCCEEDED)
FAILURES = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "MapStateFailed",
        "MapStateAborted",
        "ParallelStateFailed",
        "ParallelStateAborted",
    }
)
CONTAINER_END = frozenset(
    {
        "MapStateSucceeded",
        "MapStateFailed",
        "MapStateAborted",
        "MapStateExited",
        "MapIterationSucceeded",
        "MapIterationFailed",
        "MapIterationAborted",
        "ParallelStateSucceeded",
        "ParallelStateFailed",
        "ParallelStateAborted",
        "ParallelStateExited",
    }
)
CONTAINER_ENTERED = frozenset({"MapStateEntered", "ParallelStateEntered"})
ITERATION_ENDS = {
    "MapIterationSucceeded": SUCCEEDED,
    "MapIterationFailed": FAILED,
    "MapIterationAborted": ABORTED,
}


@dataclass
class StateRun:
    """One entry into one state."""

    state: str
    entered_id: int
    entered: datetime | None
    input: Any
    iteration: int | None = None  # the Map item index, inside a Map
    exited: datetime | None = None
    output: Any = None
    status: str = RUNNING
    error: str | None = None
    cause: str | None = None
    attempts: int = 0
    iterations: dict[str, int] = field(default_factory=dict)  # a Map's: total, succeeded, failed, ...
    child_execution: str | None = None  # the execution a startExecution task started

    def as_json(self) -> dict[str, Any]:
        seconds = (self.exited - self.entered).total_seconds() if self.exited and self.entered else None
        return {
            "state": self.state,
            "iteration": self.iteration,
            "status": self.status,
            "entered": self.entered.isoformat() if self.entered else None,
            "exited": self.exited.isoformat() if self.exited else None,
            "seconds": None if seconds is None else round(seconds, 3),
            "attempts": self.attempts,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "iterations": self.iterations or None,
            "childExecution": self.child_execution,
        }


class _Links:
    """previousEventId chains, resolved once per event (iteratively: histories are long)."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.by_id = {int(event["id"]): event for event in events}
        self._owner: dict[int, int | None] = {}
        self._iteration: dict[int, int | None] = {}

    def _previous(self, event_id: int) -> int | None:
        previous = self.by_id[event_id].get("previousEventId")
        return int(previous) if previous and int(previous) in self.by_id else None

    def _container_of(self, event_id: int) -> int | None:
        """The Map/Parallel StateEntered event a container's end event belongs to."""
        name = _details(self.by_id[event_id]).get("name")
        current = self._previous(event_id)
        while current is not None:
            event = self.by_id[current]
            if event.get("type") in CONTAINER_ENTERED and (
                name is None or _details(event).get("name") == name
            ):
                return current
            current = self._previous(current)
        return None

    def _walk(
        self, event_id: int, memo: dict[int, int | None], decide: Callable[[int], tuple[bool, int | None]]
    ) -> int | None:
        """Follow previousEventId until `decide` answers; every event on the way gets that answer."""
        path: list[int] = []
        current: int | None = event_id
        found: int | None = None
        while current is not None:
            if current in memo:
                found = memo[current]
                break
            path.append(current)
            done, value = decide(current)
            if done:
                found = value
                break
            current = self._previous(current)
        for visited in path:
            memo[visited] = found
        return found

    def owner(self, event_id: int) -> int | None:
        """The id of the StateEntered event this event belongs to."""

        def decide(current: int) -> tuple[bool, int | None]:
            kind = str(self.by_id[current].get("type", ""))
            if kind.endswith("StateEntered"):
                return True, current
            if kind in CONTAINER_END or kind == "MapIterationStarted":
                # these follow the last event of a branch or of another item, not their container
                return True, self._container_of(current)
            return False, None

        return self._walk(event_id, self._owner, decide)

    def iteration(self, event_id: int) -> int | None:
        """The Map item index an event runs for (None outside a Map)."""

        def decide(current: int) -> tuple[bool, int | None]:
            event = self.by_id[current]
            if event.get("type") == "MapIterationStarted":
                index = _details(event).get("index")
                return True, int(index) if index is not None else None
            if event.get("type") in CONTAINER_END:
                container = self._container_of(current)
                return True, None if container is None else self.iteration(container)
            return False, None

        return self._walk(event_id, self._iteration, decide)


def _child_execution(kind: str, details: Mapping[str, Any]) -> str | None:
    """A startExecution task's child: its submitted or succeeded output, or its failure's cause, is
    the child's DescribeExecution (results.child_execution_arns reads the same fields)."""
    if kind not in ("TaskSubmitted", "TaskSucceeded", "TaskFailed"):
        return None
    document = json_or_text(details.get("cause" if kind == "TaskFailed" else "output"))
    arn = document.get("ExecutionArn") if isinstance(document, dict) else None
    return arn if isinstance(arn, str) else None


def state_runs(events: Sequence[Event], execution_status: str) -> list[StateRun]:
    """Every run of every state, in the order they were entered."""
    links = _Links(events)
    runs: dict[int, StateRun] = {}
    for event in events:
        event_id, kind = int(event["id"]), str(event.get("type", ""))
        details = _details(event)
        stamp = event.get("timestamp")
        if kind.endswith("StateEntered"):
            runs[event_id] = StateRun(
                state=str(details.get("name", "?")),
                entered_id=event_id,
                entered=stamp,
                input=json_or_text(details.get("input")),
                iteration=links.iteration(event_id),
            )
            if kind == "FailStateEntered":
                runs[event_id].status = FAILED
            continue
        owner = links.owner(event_id)
        run = runs.get(owner) if owner is not None else None
        if run is None:
            continue
        run.child_execution = _child_execution(kind, details) or run.child_execution
        if kind.endswith("StateExited"):
            run.exited, run.output = stamp, json_or_text(details.get("output"))
            if run.status != FAILED or kind != "FailStateExited":
                run.status = CAUGHT if run.status == FAILED else SUCCEEDED
        elif kind in SCHEDULED:
            run.attempts += 1
            run.status = RUNNING
        elif kind in FAILURES:
            run.status, run.exited = FAILED, stamp
            run.error = details.get("error") or run.error
            run.cause = readable_cause(details.get("cause")) or run.cause
        elif kind == "MapStateStarted":
            run.iterations["total"] = int(details.get("length", 0))
        elif kind == "MapIterationStarted":
            run.iterations["started"] = run.iterations.get("started", 0) + 1
        elif kind in ITERATION_ENDS:
            ended = ITERATION_ENDS[kind].lower()
            run.iterations[ended] = run.iterations.get(ended, 0) + 1
    ordered = [runs[key] for key in sorted(runs)]
    if execution_status not in (RUNNING, "PENDING_REDRIVE"):
        for run in ordered:
            if run.status == RUNNING:
                run.status = ABORTED  # the execution ended while the state ran (stopped, timed out)
    return ordered


def fail_state_details(runs: list[StateRun], definition: Mapping[str, Any]) -> None:
    """A Fail state's error and cause are in its definition (or the execution's failure event)."""
    from imgpipe.local.results import _find_state

    for run in runs:
        if run.status == FAILED and run.error is None:
            state = _find_state(definition, run.state) or {}
            if state.get("Type") == "Fail":
                run.error, run.cause = state.get("Error"), state.get("Cause")


def node_statuses(runs: Sequence[StateRun], node_of: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Per graph node: its status and how many runs ended each way (and a Map's iterations)."""
    nodes: dict[str, dict[str, Any]] = {}
    for run in runs:
        node_id = node_of.get(run.state)
        if node_id is None:
            continue
        entry = nodes.setdefault(node_id, {"status": NOT_STARTED, "counts": {}, "iterations": None})
        entry["counts"][run.status] = entry["counts"].get(run.status, 0) + 1
        if run.iterations:
            total = run.iterations.get("total", 0)
            done = run.iterations.get("succeeded", 0)
            failed = run.iterations.get("failed", 0) + run.iterations.get("aborted", 0)
            running = max(run.iterations.get("started", 0) - done - failed, 0)
            entry["iterations"] = {"total": total, "done": done, "running": running, "failed": failed}
    for entry in nodes.values():
        entry["status"] = next((s for s in PRECEDENCE if s in entry["counts"]), NOT_STARTED)
    return nodes


def failing_run(runs: Sequence[StateRun]) -> StateRun | None:
    """The run that made the execution fail: the last failed one that was not caught or retried."""
    failed = [run for run in runs if run.status == FAILED]
    return failed[-1] if failed else None
