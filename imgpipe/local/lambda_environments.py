"""Lambda execution environments for the local runtime: worker processes, one pool per function.

On Lambda each invocation runs in an execution environment that serves one invocation at a time,
whose environment variables are the function's, whose handler module is imported once (the init
phase of a cold start) and reused while warm, and which Lambda stops at the function timeout: the
caller gets ``Sandbox.Timedout`` / "Task timed out after N seconds" and the next invocation gets a
fresh environment (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html,
https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html).
Here an environment is a ``multiprocessing`` process (forkserver context where the platform has it,
else spawn) talking over a ``multiprocessing`` Pipe:

- its ``os.environ`` is the function's (set in that process only, before the handler is imported);
- the handler is imported once per process; the process serves invocations one at a time, warm;
- an invocation past the function timeout kills the process (``Sandbox.Timedout``); a process that
  dies mid-invocation is ``Runtime.ExitError``; a handler that cannot be imported is
  ``Runtime.ImportModuleError``: Lambda's error names;
- what the handler prints (stdout and stderr: Powertools' JSON logs and EMF metrics, CloudWatch
  Logs on Lambda) is returned with the result, and the caller writes it to its own stdout.

A pool holds at most ``max_environments`` processes (started on demand, as Lambda scales out);
an invocation that finds them all busy waits for one, and that wait never counts against its timeout.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

# Lambda gives the init phase 10 s, then retries it inside the first invocation with the function's
# timeout (lambda-runtime-environment.html, "Init phase"): the same budget here.
INIT_SECONDS = 10.0
RECEIVE_SLICE_SECONDS = 0.25  # how soon a waiting invocation notices its environment was killed
# Imported once into the forkserver, so that a new environment forks with them loaded (cold starts
# then cost the project's own imports, as on a Lambda whose layer is on disk); none of them reads
# the environment at import.
PRELOADED_MODULES = ("boto3", "botocore.session", "PIL.Image", "pydantic", "urllib3")


@dataclass(frozen=True)
class FunctionSpec:
    """What an environment of one function needs: its handler string and its environment variables."""

    name: str
    handler: str  # "package.module.function", as Lambda's handler setting
    environment: Mapping[str, str]
    memory_mb: int
    arn: str


@dataclass
class Outcome:
    """One invocation's answer: the result or Lambda's error payload, and what the handler printed."""

    result: Any = None
    error: dict[str, Any] | None = None
    logs: str = ""
    cold_start: bool = False
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def timed_out(seconds: float) -> dict[str, Any]:
    """Lambda's error payload for an invocation stopped at the function timeout."""
    return {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {seconds:.2f} seconds"}


class LambdaContext:
    """The attributes of the Lambda Python runtime's context object that handlers and Powertools read."""

    def __init__(self, name: str, arn: str, memory_mb: int, deadline: float, request_id: str = "") -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self._deadline = deadline

    def start_clock(self, timeout_seconds: float) -> None:
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _multiprocessing_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOADED_MODULES))
        return context
    return multiprocessing.get_context("spawn")


_CONTEXT = _multiprocessing_context()


def prepare() -> None:
    """Start the forkserver now (it imports PRELOADED_MODULES once), not inside the first invocation."""
    if _CONTEXT.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


# --- inside the environment (the child process) ------------------------------------------------
class _InvocationLog(io.TextIOBase):
    """stdout and stderr of the environment: kept per invocation and handed back with its result."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def writable(self) -> bool:
        return True

    def take(self) -> str:
        text, self._parts = "".join(self._parts), []
        return text


def _error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = handler.rpartition(".")
    function: Callable[[Any, Any], Any] = getattr(importlib.import_module(module_name), function_name)
    return function


def environment_main(connection: Connection, spec: FunctionSpec, sys_path: list[str]) -> None:
    """The execution environment: set the function's environment, import the handler, then serve."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    sys.path[:] = sys_path
    os.environ.clear()
    os.environ.update(spec.environment)
    log = _InvocationLog()
    sys.stdout = sys.stderr = log  # Powertools binds its handler to sys.stdout at import: import after
    try:
        handler = _load_handler(spec.handler)
    except Exception as error:  # Lambda: Runtime.ImportModuleError, the environment is not used
        payload = _error_payload(error, "init")
        payload["errorType"] = "Runtime.ImportModuleError"
        payload["errorMessage"] = f"Unable to import module '{spec.handler}': {error}"
        connection.send(("failed", payload, log.take()))
        return
    connection.send(("ready", None, log.take()))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        event, request_id, timeout_seconds = request
        deadline = time.monotonic() + timeout_seconds
        context = LambdaContext(spec.name, spec.arn, spec.memory_mb, deadline, request_id)
        try:
            result = json.loads(json.dumps(handler(event, context)))
            connection.send(("result", result, log.take()))
        except Exception as error:  # every handler failure becomes Lambda's error payload
            connection.send(("error", _error_payload(error, request_id), log.take()))


# --- the parent's side -------------------------------------------------------------------------
class _Environment:
    """One worker process of a function, serving one invocation at a time."""

    def __init__(self, spec: FunctionSpec) -> None:
        self._connection, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(
            target=environment_main,
            args=(child, spec, list(sys.path)),
            name=f"lambda-{spec.name}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.warm = False
        # kill (runtime shutdown) and a failed receive may join the process from two threads at
        # once; multiprocessing's join is not safe for that (one closes the sentinel the other waits on)
        self._joining = threading.Lock()
        # kill runs from the invocation's thread (timeout) and from shutdown: the pipe is closed once,
        # or the second close could close a descriptor number another thread has opened since
        self._killing = threading.Lock()
        self._killed = False
        self.init_logs = ""

    def initialise(self, budget_seconds: float) -> dict[str, Any] | None:
        """Wait for the handler import; None when ready, else Lambda's error payload."""
        answer = self._receive(budget_seconds)
        if answer is None:
            self.kill()
            return timed_out(budget_seconds)
        kind, payload, logs = answer
        self.init_logs = logs
        if kind != "ready":
            self.kill()
            return dict(payload)
        return None

    def invoke(self, event: Any, request_id: str, timeout_seconds: float) -> Outcome:
        outcome = Outcome(request_id=request_id, cold_start=not self.warm, logs=self.init_logs)
        self.init_logs = ""
        self.warm = True
        try:
            self._connection.send((event, request_id, timeout_seconds))
        except (BrokenPipeError, OSError):
            outcome.error = self._exit_error()
            return outcome
        answer = self._receive(timeout_seconds)
        if answer is None:
            self.kill()  # as Lambda stops the environment: the invocation publishes nothing more
            outcome.error = timed_out(timeout_seconds)
            return outcome
        kind, payload, logs = answer
        outcome.logs += logs
        if kind == "result":
            outcome.result = payload
        else:
            outcome.error = payload
        return outcome

    def _receive(self, timeout_seconds: float) -> tuple[str, Any, str] | None:
        """The environment's answer, None after `timeout_seconds`. Polls in short slices: a poll
        already waiting is not woken when another thread kills the environment (runtime shutdown),
        and a thread left waiting would hold up the interpreter's exit for the whole timeout."""
        deadline = time.monotonic() + timeout_seconds
        try:
            while not self._connection.poll(
                min(RECEIVE_SLICE_SECONDS, max(0.0, deadline - time.monotonic()))
            ):
                if time.monotonic() >= deadline:
                    return None
            answer: tuple[str, Any, str] = self._connection.recv()
            return answer
        except (EOFError, OSError):
            return ("error", self._exit_error(), "")

    def _join(self, timeout_seconds: float) -> None:
        with self._joining, contextlib.suppress(OSError, ValueError):
            self.process.join(timeout=timeout_seconds)

    def _exit_error(self) -> dict[str, Any]:
        self._join(1)
        code = self.process.exitcode
        reason = f"signal: {-code}" if code is not None and code < 0 else f"exit status {code}"
        return {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited with error: {reason}"}

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        with self._killing:
            if self._killed:
                return
            self._killed = True
            with contextlib.suppress(OSError, ValueError):
                if self.process.is_alive():
                    self.process.kill()
            self._join(5)
            self._connection.close()


class EnvironmentPool:
    """The execution environments of one function: at most `max_environments` processes."""

    def __init__(self, spec: FunctionSpec, max_environments: int) -> None:
        if max_environments < 1:
            raise ValueError(f"{spec.name}: max_environments must be at least 1")
        self.spec = spec
        self.max_environments = max_environments
        self._idle: list[_Environment] = []
        self._started = 0
        self._condition = threading.Condition()
        self._closed = False
        self._all: set[_Environment] = set()

    @property
    def started(self) -> int:
        """Processes started so far (cold starts), including those stopped since."""
        return self._started

    def pids(self) -> list[int]:
        """Process ids of the environments alive now."""
        with self._condition:
            return [e.process.pid for e in self._all if e.alive and e.process.pid is not None]

    def invoke(self, event: Any, timeout_seconds: float) -> Outcome:
        environment, error = self._acquire(timeout_seconds)
        if environment is None:
            return Outcome(error=error)
        try:
            return environment.invoke(event, str(uuid.uuid4()), timeout_seconds)
        finally:
            self._release(environment)

    def _acquire(self, timeout_seconds: float) -> tuple[_Environment | None, dict[str, Any] | None]:
        with self._condition:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.spec.name}: the runtime is shutting down")
                if self._idle:
                    return self._idle.pop(), None
                if len(self._all) < self.max_environments:
                    break
                self._condition.wait()
            environment = _Environment(self.spec)
            self._all.add(environment)
            self._started += 1
        error = environment.initialise(INIT_SECONDS + timeout_seconds)
        if error is not None:
            self._release(environment)
            return None, error
        return environment, None

    def _release(self, environment: _Environment) -> None:
        with self._condition:
            if environment.alive and not self._closed:
                self._idle.append(environment)
            else:
                self._all.discard(environment)
                environment.kill()
            self._condition.notify()

    def close(self) -> None:
        """Stop every environment, busy or idle (their invocations end as Runtime.ExitError)."""
        with self._condition:
            self._closed = True
            environments = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._condition.notify_all()
        for environment in environments:
            environment.kill()
