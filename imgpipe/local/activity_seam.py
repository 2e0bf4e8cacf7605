"""Step Functions activities in the local runtime (moto internals: the smallest shim that runs them).

moto 5.2's engine runs an activity Task state in full (``StateTaskActivity``: the task is queued on
the activity, ActivityScheduled, ActivityStarted once a worker takes it, the worker's heartbeats and
outcome, TimeoutSeconds and HeartbeatSeconds), and moto's API creates, describes and deletes
activities. Four things are missing between the two:

- every execution is given an *empty* activity store (``StepFunctionsParserBackend.start_execution``
  passes ``activity_store={}``), so an activity state fails with "The activity activity_arn does not
  exist"; the seam gives executions a store that holds one task queue per activity the API created;
- the API has no GetActivityTask; the seam answers it as AWS documents: a long poll that returns a
  task as soon as one is scheduled, else after the poll time an empty ``taskToken``
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetActivityTask.html), and
  marks the task started for the engine (ActivityStarted, with the worker's name);
- SendTaskFailure's response handler drops ``cause``; the seam passes it on;
- SendTaskHeartbeat fails with InvalidToken for a task whose state has no HeartbeatSeconds (and in
  the moment between a task being taken and the engine arming its heartbeat clock), where AWS
  accepts it; the seam accepts a heartbeat for any task still waiting for its outcome (an
  activity's, or a `.waitForTaskToken` callback's: Conductor's IN_PROGRESS task update);
- a worker that answers at once can answer before the engine arms the heartbeat clock; the engine
  then waits a whole HeartbeatSeconds and times the task out although its outcome is in. The seam
  arms the clock already rung when the outcome is there;
- a heartbeat timeout is reported as ``States.Timeout`` and matches only that name, where AWS also
  matches it by ``States.HeartbeatTimeout`` in Retry and Catch ("States.HeartbeatTimeout ... is
  only available inside the Catch and Retry fields",
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), the name the
  translator retries a silent attempt by (Conductor's responseTimeoutSeconds). The seam keeps the
  reported name and lets it match both.

``verify_moto_activity_internals()`` fails loudly if moto moves any of this
(``tests/local/test_activity_seam.py`` runs it and checks it notices each move).
"""

from __future__ import annotations

import importlib
import inspect
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import MotoInternalsChanged, moto_attribute

PARSER_MODELS = "moto.stepfunctions.parser.models"
PARSER_BACKEND_CLASS = "StepFunctionsParserBackend"
PARSER_EXECUTION = "Execution"  # the name parser.models constructs executions with
PARSER_ACTIVITY = "moto.stepfunctions.parser.backend.activity"
CALLBACK = "moto.stepfunctions.parser.asl.eval.callback.callback"
SFN_RESPONSES = "moto.stepfunctions.responses"
SFN_RESPONSES_CLASS = "StepFunctionResponse"
PARSER_API = "moto.stepfunctions.parser.api"
CORE_RESPONSES = "moto.core.responses"
ACTIVITY_STATE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy"
STATES_ERROR_NAME = "moto.stepfunctions.parser.asl.component.common.error_name.states_error_name"
STATES_ERROR_TYPE = "moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type"
HEARTBEAT_TIMEOUT_NAMES = ("States.Timeout", "States.HeartbeatTimeout")

# AWS holds a GetActivityTask request for at most 60 seconds (the API reference above).
LONG_POLL_SECONDS = 60.0


def verify_moto_activity_internals() -> None:
    """Every moto name and signature the seam relies on, or MotoInternalsChanged saying what moved."""
    backend = moto_attribute(PARSER_MODELS, PARSER_BACKEND_CLASS)
    moto_attribute(PARSER_MODELS, "stepfunctions_parser_backends")
    for method in ("_get_executions", "send_task_heartbeat", "describe_activity"):
        if not callable(getattr(backend, method, None)):
            raise MotoInternalsChanged(f"moto's {PARSER_BACKEND_CLASS} has no {method} any more")
    execution = moto_attribute(PARSER_MODELS, PARSER_EXECUTION)
    execution = getattr(execution, "moto_execution", execution)  # an enclosing install's subclass
    if "activity_store" not in inspect.signature(execution.__init__).parameters:
        raise MotoInternalsChanged("moto's parser Execution takes no activity_store any more")
    activity = moto_attribute(PARSER_ACTIVITY, "Activity")
    for method in ("add_task", "get_task"):
        if not callable(getattr(activity, method, None)):
            raise MotoInternalsChanged(f"moto's parser Activity has no {method} any more")
    moto_attribute(CALLBACK, "CallbackEndpoint")
    endpoint = moto_attribute(CALLBACK, "ActivityCallbackEndpoint")
    for method in ("notify_activity_task_start", "setup_heartbeat_endpoint", "get_outcome"):
        if not callable(getattr(endpoint, method, None)):
            raise MotoInternalsChanged(f"moto's ActivityCallbackEndpoint has no {method} any more")
    if not callable(getattr(moto_attribute(CALLBACK, "HeartbeatEndpoint"), "notify", None)):
        raise MotoInternalsChanged("moto's HeartbeatEndpoint has no notify any more")
    responses = moto_attribute(SFN_RESPONSES, SFN_RESPONSES_CLASS)
    if not callable(getattr(responses, "send_task_failure", None)):
        raise MotoInternalsChanged(f"moto's {SFN_RESPONSES_CLASS} has no send_task_failure any more")
    moto_attribute(PARSER_API, "InvalidToken")
    moto_attribute(CORE_RESPONSES, "ActionResult")
    if not callable(getattr(moto_attribute(ACTIVITY_STATE, "StateTaskActivity"), "_from_error", None)):
        raise MotoInternalsChanged("moto's StateTaskActivity has no _from_error any more")
    moto_attribute(CALLBACK, "HeartbeatTimeoutError")
    if not callable(getattr(moto_attribute(STATES_ERROR_NAME, "StatesErrorName"), "matches", None)):
        raise MotoInternalsChanged("moto's StatesErrorName has no matches any more")
    moto_attribute(STATES_ERROR_TYPE, "StatesErrorNameType")


def _waiting_endpoint(backend: Any, task_token: str, kind: str = "ActivityCallbackEndpoint") -> Any | None:
    """The engine's endpoint of a task still waiting for its outcome, in a running execution: an
    activity task's, or with `kind="CallbackEndpoint"` any task token's (`.waitForTaskToken` too)."""
    endpoint_class = moto_attribute(CALLBACK, kind)
    for execution in backend._get_executions("RUNNING"):
        worker = getattr(execution, "exec_worker", None)
        if worker is None:
            continue
        endpoint = worker.env.callback_pool_manager.get(task_token)
        if isinstance(endpoint, endpoint_class) and endpoint.consumer_error is None:
            return endpoint
    return None


class _Queues:
    """One task queue per activity ARN, for as long as the seam is installed."""

    def __init__(self, activity_class: type) -> None:
        base: Any = activity_class

        class PolledActivity(base):
            """moto's activity task queue, which a long poll can wait on."""

            def __init__(self, arn: str, name: str) -> None:
                super().__init__(arn=arn, name=name)
                self.ready = threading.Condition()

            def add_task(self, task: Any) -> None:
                with self.ready:
                    super().add_task(task)
                    self.ready.notify()

            def take(self, seconds: float) -> Any | None:
                deadline = time.monotonic() + seconds
                with self.ready:
                    while True:
                        try:
                            return super().get_task()
                        except IndexError:
                            remaining = deadline - time.monotonic()
                            if remaining <= 0:
                                return None
                            self.ready.wait(remaining)

        self._activity_class = PolledActivity
        self._queues: dict[str, Any] = {}
        self._lock = threading.Lock()

    def queue(self, arn: str) -> Any:
        with self._lock:
            if arn not in self._queues:
                self._queues[arn] = self._activity_class(arn=arn, name=arn.rsplit(":", 1)[-1])
            return self._queues[arn]


class _ActivityStore(dict[str, Any]):
    """What an execution's engine reads activities from (``.get(arn)``): the queue of every activity
    moto's API holds in the execution's account and Region, none for any other ARN."""

    def __init__(self, queues: _Queues, backend: Any) -> None:
        super().__init__()
        self._queues = queues
        self._backend = backend

    def get(self, arn: Any, default: Any = None) -> Any:
        if isinstance(arn, str) and arn in getattr(self._backend, "activities", {}):
            return self._queues.queue(arn)
        return default


Patch = tuple[Any, str, Any]  # (moto class or module, attribute, replacement)


def _store_patches(queues: _Queues) -> list[Patch]:
    """Executions get the activities' queues instead of an empty store."""
    parser_models = importlib.import_module(PARSER_MODELS)
    execution_class: Any = getattr(parser_models, PARSER_EXECUTION)

    class ExecutionWithActivities(execution_class):
        moto_execution = getattr(execution_class, "moto_execution", execution_class)  # nested installs

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            backends = parser_models.stepfunctions_parser_backends
            backend = backends[kwargs["account_id"]][kwargs["region_name"]]
            kwargs["activity_store"] = _ActivityStore(queues, backend)
            super().__init__(*args, **kwargs)

    return [(parser_models, PARSER_EXECUTION, ExecutionWithActivities)]


def _api_patches(queues: _Queues, long_poll_seconds: float) -> list[Patch]:
    """GetActivityTask, SendTaskFailure with its cause, SendTaskHeartbeat as AWS answers them."""
    responses_class = moto_attribute(SFN_RESPONSES, SFN_RESPONSES_CLASS)
    backend_class = moto_attribute(PARSER_MODELS, PARSER_BACKEND_CLASS)
    invalid_token = moto_attribute(PARSER_API, "InvalidToken")
    action_result = moto_attribute(CORE_RESPONSES, "ActionResult")
    empty_result = moto_attribute(CORE_RESPONSES, "EmptyResult")

    def get_activity_task(self: Any) -> Any:
        """GetActivityTask: the next live task of the activity, or no token after the long poll."""
        arn = self._get_param("activityArn")
        worker_name = self._get_param("workerName")
        backend = self.stepfunction_backend
        backend.describe_activity(arn)  # InvalidArn / ActivityDoesNotExist, as AWS answers
        deadline = time.monotonic() + long_poll_seconds
        while (remaining := deadline - time.monotonic()) > 0:
            task = queues.queue(arn).take(remaining)
            if task is None:
                break
            endpoint = _waiting_endpoint(backend, task.task_token)
            if endpoint is None:
                continue  # its execution ended or the state timed out before anyone polled
            endpoint.notify_activity_task_start(worker_name=worker_name)
            return action_result({"taskToken": task.task_token, "input": task.task_input})
        return action_result({})

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return empty_result()

    original_heartbeat = backend_class.send_task_heartbeat

    def send_task_heartbeat(self: Any, task_token: str) -> Any:
        try:
            return original_heartbeat(self, task_token)
        except invalid_token:
            if _waiting_endpoint(self, task_token, "CallbackEndpoint") is None:
                raise
            return None  # a task without HeartbeatSeconds, or one whose heartbeat clock is not armed yet

    return [
        (responses_class, "get_activity_task", get_activity_task),
        (responses_class, "send_task_failure", send_task_failure),
        (backend_class, "send_task_heartbeat", send_task_heartbeat),
    ]


def _heartbeat_patches() -> list[Patch]:
    """The early answer's heartbeat race, and heartbeat timeouts matched by States.HeartbeatTimeout."""
    endpoint_class = moto_attribute(CALLBACK, "CallbackEndpoint")
    original_setup = endpoint_class.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
        heartbeat = original_setup(self, heartbeat_seconds)
        if self.get_outcome() is not None:  # answered before the clock was armed
            heartbeat.notify()
        return heartbeat

    activity_state = moto_attribute(ACTIVITY_STATE, "StateTaskActivity")
    original_from_error = activity_state._from_error
    heartbeat_timeout = moto_attribute(CALLBACK, "HeartbeatTimeoutError")
    states_error_name: Any = moto_attribute(STATES_ERROR_NAME, "StatesErrorName")
    timeout_type = moto_attribute(STATES_ERROR_TYPE, "StatesErrorNameType").StatesTimeout

    class HeartbeatTimeoutName(states_error_name):
        """States.Timeout as reported, matched by States.HeartbeatTimeout too."""

        def matches(self, error_name: str | None) -> bool:
            return error_name in HEARTBEAT_TIMEOUT_NAMES

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        event = original_from_error(self, env, ex)
        if isinstance(ex, heartbeat_timeout):
            event.error_name = HeartbeatTimeoutName(typ=timeout_type)
        return event

    return [
        (endpoint_class, "setup_heartbeat_endpoint", setup_heartbeat_endpoint),
        (activity_state, "_from_error", from_error),
    ]


@contextmanager
def install(*, long_poll_seconds: float = LONG_POLL_SECONDS) -> Iterator[None]:
    """Executions see the activities created through the API; GetActivityTask, SendTaskFailure's
    cause and SendTaskHeartbeat behave as on AWS. `long_poll_seconds`: how long an empty poll waits."""
    verify_moto_activity_internals()
    queues = _Queues(moto_attribute(PARSER_ACTIVITY, "Activity"))
    patches = _store_patches(queues) + _api_patches(queues, long_poll_seconds) + _heartbeat_patches()
    with ExitStack() as stack:
        for target, attribute, replacement in patches:
            stack.enter_context(mock.patch.object(target, attribute, replacement, create=True))
        yield
