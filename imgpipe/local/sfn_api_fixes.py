"""Step Functions API calls answered as AWS documents them where moto 5.2.5 does not (moto internals).

StopExecution (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html)
answers ``stopDate`` and the execution is ABORTED at once, its ``error`` and ``cause`` recorded in
the ``ExecutionAborted`` event (and in DescribeExecution). moto drops both, answers no ``stopDate``,
leaves the execution RUNNING until the state it is in returns (a Lambda task: until the function
ends), and a stopped Map ended FAILED with ``States.Runtime`` (its iterations report the stop with a
string where moto's Map expects a dict: ``AttributeError``), because moto lets a later error replace
the stop. Here a stopped program stays stopped, and the stop is recorded when it is asked for.

Child executions started with ``states:startExecution.sync[:2]`` are stopped with their parent, and
with a parent that failed or timed out while they ran: Step Functions' role for a ``.sync`` child
needs ``states:StopExecution`` on the child's executions for that
(https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html). moto let them run on.
The in-flight Lambda invocation of a stopped task runs to its end, as on Lambda, which cannot be
interrupted; its result is dropped.

An execution's history ends with its ``Execution*`` terminal event. moto kept appending the events
of work still in flight (Map iterations that "succeeded" after the Map had failed, tasks that
returned after a stop).

GetExecutionHistory
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html) honours
``maxResults`` (default 100, 0 = the default, at most 1000), ``nextToken`` (an unknown token, or one
used with other arguments, is ``InvalidToken``), ``reverseOrder`` and ``includeExecutionData``
(false leaves out the events' ``input`` and ``output``). moto returned every event, oldest first.

RedriveExecution
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html) is not in
moto 5.2.5 (its server answered an HTML 500 page): it answers AWS's ``ExecutionDoesNotExist`` /
``InvalidArn`` for an unknown execution, and ``ExecutionNotRedrivable`` otherwise, saying why (a
running or succeeded execution is not redrivable on AWS either; a failed one cannot be redriven by
this local runtime).

``verify_moto_sfn_api_targets()`` fails loudly if moto moves what is patched;
``tests/local/test_sfn_api_fixes.py`` shows each behaviour through boto3 and the AWS CLI.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import MotoInternalsChanged, moto_attribute

SFN_RESPONSES = "moto.stepfunctions.responses"
SFN_RESPONSES_CLASS = "StepFunctionResponse"
SFN_EXCEPTIONS = "moto.stepfunctions.exceptions"
EXECUTION = "moto.stepfunctions.parser.backend.execution"
EXECUTION_COMMUNICATION_CLASS = "BaseExecutionWorkerCommunication"
ENVIRONMENT = "moto.stepfunctions.parser.asl.eval.environment"
PROGRAM_STATE = "moto.stepfunctions.parser.asl.eval.program_state"
EVENT_MANAGER = "moto.stepfunctions.parser.asl.eval.event.event_manager"
EVENT_DETAIL = "moto.stepfunctions.parser.asl.eval.event.event_detail"
PARSER_API = "moto.stepfunctions.parser.api"
SFN_SERVICE_TASK = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
)
SFN_TASK_CLASS = "StateTaskServiceSfn"
SYNC_RESOLVER_BUILDERS = ("_build_sync_resolver", "_build_sync2_resolver")

TERMINAL_EVENTS = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)
HISTORY_PAGE_DEFAULT = 100  # GetExecutionHistory's maxResults: "The default is 100", 0 uses it
HISTORY_PAGE_MAX = 1000  # "the maximum allowed page size is 1000"
EXECUTION_DATA_FIELDS = ("input", "output")
ENVIRONMENT_WAIT_SECONDS = 5.0  # an execution's environment exists once its thread ran; a hang guard


def verify_moto_sfn_api_targets() -> None:
    """Check the moto classes and methods patched here are where this module expects them."""
    responses = moto_attribute(SFN_RESPONSES, SFN_RESPONSES_CLASS)
    for method in ("stop_execution", "get_execution_history", "_get_param"):
        if not callable(getattr(responses, method, None)):
            raise MotoInternalsChanged(f"moto's {SFN_RESPONSES_CLASS} has no {method} any more")
    communication = moto_attribute(EXECUTION, EXECUTION_COMMUNICATION_CLASS)
    if not callable(getattr(communication, "terminated", None)):
        raise MotoInternalsChanged(f"moto's {EXECUTION_COMMUNICATION_CLASS}.terminated moved")
    environment = moto_attribute(ENVIRONMENT, "Environment")
    for method in ("set_stop", "set_error", "set_timed_out", "program_state"):
        if not callable(getattr(environment, method, None)):
            raise MotoInternalsChanged(f"moto's Environment.{method} moved")
    moto_attribute(PROGRAM_STATE, "ProgramStopped")
    event_manager = moto_attribute(EVENT_MANAGER, "EventManager")
    if not callable(getattr(event_manager, "add_event", None)):
        raise MotoInternalsChanged("moto's EventManager.add_event moved")
    moto_attribute(EVENT_MANAGER, "EventHistoryContext")
    moto_attribute(EVENT_DETAIL, "EventDetails")
    task_class = moto_attribute(SFN_SERVICE_TASK, SFN_TASK_CLASS)
    for method in SYNC_RESOLVER_BUILDERS:
        if not callable(getattr(task_class, method, None)):
            raise MotoInternalsChanged(f"moto's {SFN_TASK_CLASS}.{method} moved")
    for name in ("ExecutionDoesNotExist", "InvalidToken", "ValidationException"):
        moto_attribute(SFN_EXCEPTIONS, name)


def _aws_error(name: str) -> Any:
    return moto_attribute(SFN_EXCEPTIONS, name)


def _execution_not_redrivable(message: str) -> Exception:
    """AWS's ExecutionNotRedrivable (HTTP 400), which moto 5.2.5 does not define."""
    base = moto_attribute("moto.core.exceptions", "AWSError")
    error: Exception = base(message, exception_type="ExecutionNotRedrivable", status=400)
    return error


# --- child executions of .sync tasks -------------------------------------------------------------
class _ChildExecutions:
    """Parent execution ARN -> the child executions its `.sync` tasks started."""

    def __init__(self) -> None:
        self._children: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def add(self, parent_arn: str, child_arn: str) -> None:
        with self._lock:
            self._children.setdefault(parent_arn, []).append(child_arn)

    def pop(self, parent_arn: str) -> list[str]:
        with self._lock:
            return self._children.pop(parent_arn, [])


_children = _ChildExecutions()


def _execution_id(env: Any) -> str | None:
    execution = env.states.context_object.context_object_data.get("Execution", {})
    arn = execution.get("Id")
    return arn if isinstance(arn, str) else None


def _registering_children(original: Any) -> Any:
    """moto's `.sync` resolver builder, noting which execution started which child first."""

    def build(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        submitted = env.stack[-1] if env.stack else None
        child = submitted.get("ExecutionArn") if isinstance(submitted, dict) else None
        parent = _execution_id(env)
        if isinstance(child, str) and parent:
            _children.add(parent, child)
        return original(self, env, *args, **kwargs)

    return build


# --- StopExecution -------------------------------------------------------------------------------
def _environment(execution: Any) -> Any:
    deadline = time.monotonic() + ENVIRONMENT_WAIT_SECONDS
    while True:
        worker = execution.exec_worker
        env = getattr(worker, "env", None)
        if env is not None or time.monotonic() > deadline:
            return env
        time.sleep(0.01)


def stop_execution(backend: Any, execution_arn: str, *, error: str | None, cause: str | None) -> Any:
    """Stop a running execution as StopExecution does; return its stop date."""
    status = moto_attribute(PARSER_API, "ExecutionStatus")
    execution = backend.describe_execution(execution_arn)  # ExecutionDoesNotExist / InvalidArn as AWS
    if execution.exec_status != status.RUNNING:
        return execution.stop_date or datetime.datetime.now(tz=datetime.UTC)
    env = _environment(execution)
    stop_date = datetime.datetime.now(tz=datetime.UTC)
    stopped = moto_attribute(PROGRAM_STATE, "ProgramStopped")
    if env is not None:
        env.set_stop(stop_date=stop_date, cause=cause, error=error)
    if env is None or isinstance(env.program_state(), stopped):
        execution.exec_status = status.ABORTED
        execution.stop_date = stop_date
        execution.error, execution.cause = error, cause
        if env is not None:
            _record_abort(env, error=error, cause=cause)
        _stop_children(backend, execution_arn, error=error, cause=cause)
    return execution.stop_date or stop_date


def _record_abort(env: Any, *, error: str | None, cause: str | None) -> None:
    details = {key: value for key, value in (("error", error), ("cause", cause)) if value is not None}
    event_details = moto_attribute(EVENT_DETAIL, "EventDetails")
    context = moto_attribute(EVENT_MANAGER, "EventHistoryContext")
    env.event_manager.add_event(
        context=context.of_program_start(),
        event_type=moto_attribute(PARSER_API, "HistoryEventType").ExecutionAborted,
        event_details=event_details(executionAbortedEventDetails=details),
    )


def _stop_children(backend: Any, parent_arn: str, *, error: str | None, cause: str | None) -> None:
    for child_arn in _children.pop(parent_arn):
        try:
            stop_execution(backend, child_arn, error=error, cause=cause)
        except Exception:  # noqa: S112 - a child that is gone has nothing left to stop
            continue


def _backend_of(execution: Any) -> Any:
    from moto.stepfunctions.responses import get_backend

    return get_backend(execution.account_id, execution.region_name)


def _terminated(original: Any) -> Any:
    """The execution ended: keep a stop already recorded; stop `.sync` children still running."""

    def terminated(self: Any) -> None:
        status = moto_attribute(PARSER_API, "ExecutionStatus")
        execution = self.execution
        if execution.exec_status != status.ABORTED:
            original(self)
        if execution.exec_status == status.SUCCEEDED:
            _children.pop(execution.exec_arn)
        else:
            _stop_children(_backend_of(execution), execution.exec_arn, error=None, cause=None)

    return terminated


def _unless_stopped(original: Any) -> Any:
    """Environment.set_error/set_timed_out, except on a stopped program (a stop is final)."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        stopped = moto_attribute(PROGRAM_STATE, "ProgramStopped")
        with self._state_mutex:
            if isinstance(self._program_state, stopped):
                return None
            return original(self, *args, **kwargs)

    return method


def _json_body(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.body) if response.body else {}
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def _stop_execution_response(self: Any) -> Any:
    from moto.core.responses import ActionResult

    body = _json_body(self)
    stop_date = stop_execution(
        self.stepfunction_backend,
        body.get("executionArn") or self._get_param("executionArn"),
        error=body.get("error"),
        cause=body.get("cause"),
    )
    return ActionResult({"stopDate": stop_date})


# --- the history ---------------------------------------------------------------------------------
def _closing_history(original: Any) -> Any:
    """EventManager.add_event, dropping every event after the execution's terminal event."""

    def add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
        lock: threading.Lock = self.__dict__.setdefault("_imgpipe_closing_lock", threading.Lock())
        with lock:
            if self.__dict__.get("_imgpipe_closed"):
                last: int = context.last_published_event_id
                return last
            event_id: int = original(self, context, event_type, *args, **kwargs)
            if str(getattr(event_type, "value", event_type)) in TERMINAL_EVENTS:
                self.__dict__["_imgpipe_closed"] = True
            return event_id

    return add_event


def _token(execution_arn: str, reverse: bool, after_event_id: int) -> str:
    raw = json.dumps({"arn": execution_arn, "reverse": reverse, "after": after_event_id})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _token_position(token: str, execution_arn: str, reverse: bool) -> int:
    invalid = _aws_error("InvalidToken")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("nextToken is not a token this endpoint gave") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("after"), int):
        raise invalid("nextToken is not a token this endpoint gave")
    if decoded.get("arn") != execution_arn or decoded.get("reverse") != reverse:
        raise invalid("nextToken was given for other arguments: keep them unchanged")
    position: int = decoded["after"]
    return position


def history_page(
    events: list[Mapping[str, Any]],
    execution_arn: str,
    *,
    max_results: Any = None,
    reverse: bool = False,
    next_token: str | None = None,
    include_execution_data: bool = True,
) -> dict[str, Any]:
    """One GetExecutionHistory page of `events` (oldest first), as AWS pages it."""
    if max_results is not None and (
        not isinstance(max_results, int) or not 0 <= max_results <= HISTORY_PAGE_MAX
    ):
        raise _aws_error("ValidationException")(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 0 and {HISTORY_PAGE_MAX}"
        )
    size = max_results or HISTORY_PAGE_DEFAULT
    ordered = sorted(events, key=lambda event: int(event["id"]), reverse=reverse)
    if next_token:
        after = _token_position(next_token, execution_arn, reverse)
        ordered = [e for e in ordered if (int(e["id"]) < after if reverse else int(e["id"]) > after)]
    page = [dict(event) for event in ordered[:size]]
    if not include_execution_data:
        page = [_without_execution_data(event) for event in page]
    result: dict[str, Any] = {"events": page}
    if len(ordered) > size:
        result["nextToken"] = _token(execution_arn, reverse, int(page[-1]["id"]))
    return result


def _without_execution_data(event: dict[str, Any]) -> dict[str, Any]:
    trimmed: dict[str, Any] = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            trimmed[key] = {k: v for k, v in value.items() if k not in EXECUTION_DATA_FIELDS}
        else:
            trimmed[key] = value
    return trimmed


def _get_execution_history_response(self: Any) -> Any:
    from moto.core.responses import ActionResult

    body = _json_body(self)
    arn = body.get("executionArn") or self._get_param("executionArn")
    events = list(self.stepfunction_backend.get_execution_history(arn)["events"])
    return ActionResult(
        history_page(
            events,
            arn,
            max_results=body.get("maxResults"),
            reverse=bool(body.get("reverseOrder", False)),
            next_token=body.get("nextToken"),
            include_execution_data=body.get("includeExecutionData", True) is not False,
        )
    )


# --- RedriveExecution ----------------------------------------------------------------------------
def _redrive_execution_response(self: Any) -> Any:
    arn = _json_body(self).get("executionArn") or self._get_param("executionArn")
    execution = self.stepfunction_backend.describe_execution(arn)
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    if status in ("RUNNING", "SUCCEEDED"):
        reason = f"Execution is {status}: only a FAILED, TIMED_OUT or ABORTED execution can be redriven"
    else:
        reason = (
            f"Execution is {status}, but this local runtime cannot redrive it (moto 5.2.5 has no "
            "RedriveExecution): start a new execution with the same input"
        )
    raise _execution_not_redrivable(reason)


@contextmanager
def install() -> Iterator[None]:
    """Answer StopExecution, GetExecutionHistory and RedriveExecution as AWS while installed."""
    verify_moto_sfn_api_targets()
    responses = moto_attribute(SFN_RESPONSES, SFN_RESPONSES_CLASS)
    communication = moto_attribute(EXECUTION, EXECUTION_COMMUNICATION_CLASS)
    environment = moto_attribute(ENVIRONMENT, "Environment")
    event_manager = moto_attribute(EVENT_MANAGER, "EventManager")
    task_class = moto_attribute(SFN_SERVICE_TASK, SFN_TASK_CLASS)
    with ExitStack() as stack:
        patches: list[tuple[Any, str, Any]] = [
            (responses, "stop_execution", _stop_execution_response),
            (responses, "get_execution_history", _get_execution_history_response),
            (communication, "terminated", _terminated(communication.terminated)),
            (environment, "set_error", _unless_stopped(environment.set_error)),
            (environment, "set_timed_out", _unless_stopped(environment.set_timed_out)),
            (event_manager, "add_event", _closing_history(event_manager.add_event)),
            *(
                (task_class, name, _registering_children(getattr(task_class, name)))
                for name in SYNC_RESOLVER_BUILDERS
            ),
        ]
        for target, name, replacement in patches:
            stack.enter_context(mock.patch.object(target, name, replacement))
        stack.enter_context(
            mock.patch.object(responses, "redrive_execution", _redrive_execution_response, create=True)
        )
        yield
