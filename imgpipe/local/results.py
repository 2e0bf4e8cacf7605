"""What an execution did, read from its Step Functions history: attempts, transitions, failures,
and the renditions it published. Works on any history (local engine, ``imgpipe serve``, AWS)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lambdas.conductor.status import readable_cause
from lambdas.core.decode import ALLOWED_INPUT_FORMATS
from lambdas.core.keys import MANIFEST_NAME

Event = Mapping[str, Any]
WORKFLOW_INPUT = "$.workflow.input."  # where translated ASL reads the workflow input (expressions.py)

# A Task state calls a Lambda function either through the `lambda:invoke` integration (Task* events)
# or by the function ARN as Resource (LambdaFunction* events); both count as task attempts.
SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled"})
SUCCEEDED = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded"})

# Advice shown with a failure, by error name (worker errors from lambdas/core/errors.py first).
ADVICE = {
    "InvalidRecipeError": "fix the recipe fields named in the cause, in the workflow input",
    "UnsupportedImageError": f"convert the source to a supported format ({', '.join(ALLOWED_INPUT_FORMATS)})",
    "CorruptImageError": "the source is not a readable image: check the file, re-export it",
    "ImageTooLargeError": (
        "use a smaller source, or raise maxSourceBytes, maxSourcePixels or memorySize in cdk.json"
    ),
    "SourceNotFoundError": "check fileLocation: the object, file or URL does not exist",
    "SourceRefusedError": "fileLocation is refused: use an allowed host (allowedUrlHosts) or an S3 URI",
    "TransientSourceError": "the source could not be fetched after retries: try again later",
    "StorageThrottledError": "S3 throttled the upload after retries: try again later",
    "Sandbox.Timedout": "the worker ran out of time: use a smaller image or raise the task timeout",
    "States.Timeout": "the workflow or a task exceeded its timeout",
    "States.Runtime": "the state machine could not evaluate a path: check the input has every field",
    "States.TaskFailed": "a task failed: see the cause",
}


@dataclass(frozen=True)
class Failure:
    """Where and why an execution failed, as a person needs it."""

    state: str | None
    error: str | None
    cause: str | None

    @property
    def advice(self) -> str:
        return ADVICE.get(self.error or "", "see the cause; `imgpipe history` shows every step")


@dataclass(frozen=True)
class PublishedObject:
    """An object of the output bucket that a task of the execution reported."""

    bucket: str
    key: str
    seconds: float | None


def _details(event: Event) -> Mapping[str, Any]:
    for name, value in event.items():
        if name.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _by_id(events: Sequence[Event]) -> dict[int, Event]:
    return {int(event["id"]): event for event in events}


def _state_of(event: Event, index: Mapping[int, Event]) -> str | None:
    """The state an event belongs to: walk previousEventId back to the StateEntered event."""
    current: Event | None = event
    for _ in range(len(index) + 1):
        if current is None:
            return None
        if str(current.get("type", "")).endswith("StateEntered"):
            name = _details(current).get("name")
            return str(name) if name is not None else None
        previous = current.get("previousEventId")
        current = index.get(int(previous)) if previous else None
    return None


def state_attempts(events: Sequence[Event]) -> dict[str, int]:
    """Per state name, how many task attempts (TaskScheduled events) the history shows."""
    index = _by_id(events)
    counts: Counter[str] = Counter()
    for event in events:
        if event.get("type") in SCHEDULED:
            counts[_state_of(event, index) or "?"] += 1
    return dict(sorted(counts.items()))


def transitions(events: Sequence[Event]) -> int:
    """State transitions billed by Standard workflows: one per state entered (Map iterations too)."""
    return sum(1 for event in events if str(event.get("type", "")).endswith("StateEntered"))


def failure(events: Sequence[Event], described: Mapping[str, Any]) -> Failure | None:
    """The failing state, error and cause of a failed execution; None if it did not fail."""
    if described.get("status") == "SUCCEEDED":
        return None
    index = _by_id(events)
    state = None
    for event in reversed(events):
        kind = str(event.get("type", ""))
        if kind.endswith(("Failed", "TimedOut")) and not kind.startswith(("Execution", "MapIteration")):
            state = _state_of(event, index)
            if state:
                break
    error = described.get("error")
    cause = described.get("cause")
    if error is None:
        for event in reversed(events):
            if event.get("type") in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
                error = _details(event).get("error")
                cause = _details(event).get("cause")
                break
    return Failure(state=state, error=error, cause=readable_cause(cause))


def in_user_words(failure: Failure, definition: Mapping[str, Any]) -> Failure:
    """The failure with the worker's field named as the workflow input field the user wrote.

    A worker names its own input (`outputWidth: must be > 0`); the failing state's Parameters say
    which workflow input it was read from (`recipeParameters.outputSize.width`).
    """
    if not failure.cause or not failure.state:
        return failure
    field, separator, problem = failure.cause.partition(": ")
    state = _find_state(definition, failure.state.rsplit(" > ", 1)[-1])
    payload = (state or {}).get("Parameters", {}).get("Payload")
    if not separator or not isinstance(payload, Mapping):
        return failure
    head = re.split(r"[.\[]", field, maxsplit=1)[0]
    source = payload.get(f"{head}.$")
    if not isinstance(source, str) or not source.startswith(WORKFLOW_INPUT):
        return failure
    written = source.removeprefix(WORKFLOW_INPUT) + field[len(head) :]
    if written == field:
        return failure
    return Failure(failure.state, failure.error, f"{written} (the worker's {field}): {problem}")


def _find_state(definition: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """A state by name anywhere in a definition: Map processors and Parallel branches included."""
    states = definition.get("States", {})
    if name in states:
        found: Mapping[str, Any] = states[name]
        return found
    for state in states.values():
        nested = [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]
        for inner in nested:
            if isinstance(inner, Mapping) and (hit := _find_state(inner, name)) is not None:
                return hit
    return None


# --- renditions ---------------------------------------------------------------------------------
def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, looking inside strings that are themselves JSON documents."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                yield from _strings(json.loads(stripped))
                return
            except ValueError:
                pass
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def object_locations(text: str, bucket: str) -> tuple[str, str] | None:
    """(bucket, key) when ``text`` is an s3:// URI or an https URL of an object in ``bucket``."""
    if text.startswith(f"s3://{bucket}/"):
        return bucket, text[len(f"s3://{bucket}/") :]
    match = re.match(rf"^https://{re.escape(bucket)}\.s3[.\w-]*\.amazonaws\.com/([^?#]+)", text)
    if match:
        from urllib.parse import unquote

        return bucket, unquote(match.group(1))
    return None


def published_objects(events: Sequence[Event], output_bucket: str) -> list[PublishedObject]:
    """Objects of the output bucket reported by the execution's tasks, first report first: the
    renditions, not the render-all worker's manifests (`manifestLocation`), which only list them.

    A task's time is from its TaskScheduled to its TaskSucceeded (the time of the attempt that won).
    """
    index = _by_id(events)
    found: dict[tuple[str, str], PublishedObject] = {}
    for event in events:
        if event.get("type") not in SUCCEEDED | {"ExecutionSucceeded"}:
            continue
        seconds = _task_seconds(event, index)
        for text in _strings(_details(event).get("output")):
            location = object_locations(text, output_bucket)
            if location and location not in found and not is_manifest(location[1]):
                found[location] = PublishedObject(*location, seconds=seconds)
    return list(found.values())


def is_manifest(key: str) -> bool:
    """A render-all manifest (`<...>/manifest.json`), which lists renditions and is none."""
    return key.endswith(f"/{MANIFEST_NAME}")


def _task_seconds(event: Event, index: Mapping[int, Event]) -> float | None:
    current: Event | None = event
    for _ in range(4):
        previous = current.get("previousEventId") if current else None
        current = index.get(int(previous)) if previous else None
        if current is None:
            return None
        if current.get("type") in SCHEDULED:
            try:
                return float((event["timestamp"] - current["timestamp"]).total_seconds())
            except (KeyError, TypeError, AttributeError):
                return None
    return None


def child_execution_arns(events: Sequence[Event]) -> list[str]:
    """Executions started by ``startExecution.sync`` tasks (their outputs, or causes, carry ExecutionArn)."""
    arns: list[str] = []
    for event in events:
        if event.get("type") not in ("TaskSucceeded", "TaskFailed"):
            continue
        # a succeeded .sync task's output, or a failed one's cause, is the child's DescribeExecution
        raw = _details(event).get("output" if event.get("type") == "TaskSucceeded" else "cause")
        try:
            output = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            output = None
        arn = output.get("ExecutionArn") if isinstance(output, Mapping) else None
        if isinstance(arn, str) and arn not in arns:
            arns.append(arn)
    return arns
