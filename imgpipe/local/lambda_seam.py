"""The one place imgpipe reaches into moto's internals.

moto's Step Functions engine (``execute_state_machine``) invokes Lambda tasks through a boto3
client that it builds with ``lambda_eval_utils.boto_client_for``; moto's own Lambda backend would
need Docker to run them. This module swaps that client, for the ``lambda`` service only, for a
router that runs the project's handlers as Lambda runs them: a function registered by its handler
string (``lambdas.<task>.handler.handler``) runs in its own worker processes
(``imgpipe.local.lambda_environments``: one environment per process, warm reuse, killed at the
function timeout). A plain callable (the translator tests' stub workers, which read no environment)
runs in a thread of this process. It can also scale the engine's Retry and Wait sleeps, so a
test of a ``retryDelaySeconds: 60`` policy does not sleep for minutes while the ASL stays unchanged.

It is also where the local runtime is as stingy as AWS on demand: the router can enforce a Lambda
concurrency quota (account-wide and per function, like reserved concurrency) and refuses an invoke
over it with ``TooManyRequestsException`` (429) as Lambda does, and it can refuse the child starts of
``startExecution.sync`` tasks (``ExecutionLimitExceeded``, ``ThrottlingException``) through the
Step Functions client moto's engine uses for them. Nothing here exists in the deployed code.

moto has no public hook for any of this, so the supported moto range is pinned in pyproject.toml and
``verify_moto_internals()`` fails loudly (it runs on every install and in a test) if the internals
this seam relies on move.

Usage::

    router = LambdaRouter()
    router.register("imgpipe-image_convert_resize", "lambdas.image_convert_resize.handler.handler",
                    environment={...}, timeout_seconds=35, max_environments=2)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        with install(router, time_scale=0.0):
            ...  # create state machines, start executions: their Lambda tasks call `handler`
"""

from __future__ import annotations

import concurrent.futures
import importlib
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError

from imgpipe.local.lambda_environments import EnvironmentPool, FunctionSpec, LambdaContext, timed_out

LAMBDA_EVAL_UTILS = "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
RETRIER_DECL = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"
SFN_SERVICE_TASK = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
)
WAIT_FUNCTION = "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function"

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"

Handler = Callable[[dict[str, Any], Any], Any]
# Called before each invocation with (function name, event); may raise a botocore ClientError to
# simulate a Lambda service error (Lambda.ServiceException, Lambda.TooManyRequestsException, ...).
FaultInjector = Callable[[str, Any], None]
# Called before each child start of a startExecution.sync task with the StartExecution parameters; may
# raise a botocore ClientError (the engine reports it as `StepFunctions.<Code>Exception`).
StartExecutionInjector = Callable[[dict[str, Any]], None]


class MotoInternalsChanged(RuntimeError):
    """moto moved something this seam patches: pin moto to the range in pyproject.toml."""


def moto_attribute(module_name: str, attribute: str) -> Any:
    """`module_name.attribute` of moto, or MotoInternalsChanged naming what moved (every seam's check)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise MotoInternalsChanged(f"moto module {module_name} is gone: {error}") from error
    value = getattr(module, attribute, None)
    if value is None:
        raise MotoInternalsChanged(f"moto's {module_name} has no {attribute} any more")
    return value


def verify_moto_internals() -> None:
    """Check every moto attribute the seam replaces, with a message that says what moved."""
    expectations = {
        LAMBDA_EVAL_UTILS: ("boto_client_for", "_invoke_lambda_function", "exec_lambda_function"),
        RETRIER_DECL: ("time", "RetrierDecl"),
        SFN_SERVICE_TASK: ("boto_client_for",),
        WAIT_FUNCTION: ("WaitFunction",),
    }
    for module_name, attributes in expectations.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise MotoInternalsChanged(f"moto module {module_name} is gone: {error}") from error
        for attribute in attributes:
            if not hasattr(module, attribute):
                raise MotoInternalsChanged(f"moto's {module_name} has no attribute {attribute!r} any more")
    wait_function = importlib.import_module(WAIT_FUNCTION).WaitFunction
    if not hasattr(wait_function, "_wait_interval"):
        raise MotoInternalsChanged("moto's WaitFunction has no _wait_interval any more")


@dataclass
class LambdaFunction:
    """One deployed function: its handler (a handler string runs in worker processes, a callable in
    a thread of this process), environment, timeout and memory."""

    name: str
    handler: Handler | str
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 30.0
    memory_mb: int = 128
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    max_environments: int = 1

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    def lambda_environment(self) -> dict[str, str]:
        """The variables Lambda sets in the function's environment, around the function's own
        (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
        The host's AWS_* settings (profiles, real credentials, endpoints) never reach a function."""
        environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        environ |= {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }
        environ |= self.environment
        return environ


# --- the router ---------------------------------------------------------------------------------
@dataclass
class Invocation:
    """One call of a function, kept for tests and for the CLI's progress display."""

    function_name: str
    event: Any
    started: float
    duration: float = 0.0
    error_type: str | None = None
    logs: str = ""  # what the handler printed (its Powertools logs and EMF metrics)
    cold_start: bool = False


class LambdaRouter:
    """Maps function names and ARNs to handlers, and answers Lambda's Invoke API."""

    def __init__(self, *, max_workers: int = 32) -> None:
        self._functions: dict[str, LambdaFunction] = {}
        self._pools: dict[str, EnvironmentPool] = {}
        self._pools_lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="lambda"
        )
        self.fault_injector: FaultInjector | None = None
        self.start_execution_injector: StartExecutionInjector | None = None
        self.invocations: list[Invocation] = []
        self._invocations_lock = threading.Lock()
        self._quota = _ConcurrencyQuota()

    def limit_concurrency(
        self, *, account: int | None = None, per_function: Mapping[str, int] | None = None
    ) -> None:
        """Refuse invokes over these concurrencies as Lambda does (None: no limit, the default).
        `account` is the Region's concurrency quota, `per_function` reserved concurrency by function
        name; a function with reserved concurrency does not count against the rest of the account."""
        self._quota = _ConcurrencyQuota(account, dict(per_function or {}))

    @property
    def throttled(self) -> list[str]:
        """Names of the functions whose invokes the concurrency quota refused, one per refusal."""
        return list(self._quota.refused)

    def register(
        self,
        name: str,
        handler: Handler | str,
        *,
        environment: Mapping[str, str] | None = None,
        timeout_seconds: float = 30.0,
        memory_mb: int = 128,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        max_environments: int = 1,
    ) -> LambdaFunction:
        """`handler`: a handler string ("package.module.function") runs in at most
        `max_environments` worker processes with `environment`; a callable runs in this process."""
        if not isinstance(handler, str) and environment:
            raise ValueError(f"{name}: an environment needs a handler string (a worker process of its own)")
        function = LambdaFunction(
            name,
            handler,
            dict(environment or {}),
            timeout_seconds,
            memory_mb,
            region,
            account,
            max_environments,
        )
        self._functions[name] = function
        self._close_pool(name)
        return function

    def pool(self, name: str) -> EnvironmentPool:
        """The worker processes of a function registered by handler string (started on demand)."""
        function = self.function(name)
        if not isinstance(function.handler, str):
            raise ValueError(f"{name}: runs in this process (its handler is a callable)")
        with self._pools_lock:
            pool = self._pools.get(function.name)
            if pool is None:
                spec = FunctionSpec(
                    function.name,
                    function.handler,
                    function.lambda_environment(),
                    function.memory_mb,
                    function.arn,
                )
                pool = self._pools[function.name] = EnvironmentPool(spec, function.max_environments)
            return pool

    def _close_pool(self, name: str) -> None:
        with self._pools_lock:
            pool = self._pools.pop(name, None)
        if pool is not None:
            pool.close()

    def function(self, name_or_arn: str) -> LambdaFunction:
        name = name_or_arn
        if name_or_arn.startswith("arn:"):
            # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
            parts = name_or_arn.split(":")
            name = parts[6] if len(parts) > 6 else name_or_arn
        else:
            name = name_or_arn.split(":", maxsplit=1)[0]
        try:
            return self._functions[name]
        except KeyError:
            raise lambda_service_error(
                "ResourceNotFoundException", f"Function not found: {name}", 404
            ) from None

    def invoke(
        self, FunctionName: str, Payload: Any = None, **_: Any
    ) -> dict[str, Any]:  # boto3 parameter names
        """Lambda's Invoke (RequestResponse), as moto's engine calls it on a boto3 client."""
        function = self.function(FunctionName)
        event = _decode_payload(Payload)
        if self.fault_injector is not None:
            self.fault_injector(function.name, event)
        with self._quota.slot(function.name):
            return self._invoke(function, event)

    def _invoke(self, function: LambdaFunction, event: Any) -> dict[str, Any]:
        record = Invocation(function.name, event, time.monotonic())
        with self._invocations_lock:
            self.invocations.append(record)
        if isinstance(function.handler, str):
            outcome = self.pool(function.name).invoke(event, function.timeout_seconds)
            result, error = outcome.result, outcome.error
            record.logs, record.cold_start = outcome.logs, outcome.cold_start
            if outcome.logs:
                # Lambda sends a function's output to CloudWatch Logs; here to this process's stdout
                sys.stdout.write(outcome.logs)
        else:
            result, error = self._run_in_thread(function, event)
        record.duration = time.monotonic() - record.started
        response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        if error is not None:
            record.error_type = error["errorType"]
            response["FunctionError"] = "Unhandled"
            result = error
        response["Payload"] = io.BytesIO(json.dumps(result).encode())
        return response

    def _run_in_thread(self, function: LambdaFunction, event: Any) -> tuple[Any, dict[str, Any] | None]:
        handler = function.handler
        assert callable(handler)
        context = LambdaContext(function.name, function.arn, function.memory_mb, deadline=float("inf"))
        started = threading.Event()

        def call() -> Any:
            # The clock starts when the handler does, as on Lambda: time spent waiting for a free
            # thread (the engine's concurrency bound) never counts against the function's timeout.
            context.start_clock(function.timeout_seconds)
            started.set()
            return handler(event, context)

        future = self._executor.submit(call)
        started.wait()
        try:
            return future.result(timeout=function.timeout_seconds), None
        except concurrent.futures.TimeoutError:
            # A thread cannot be killed: it finishes in the background and its result is dropped.
            return None, timed_out(function.timeout_seconds)
        except Exception as error:  # every handler failure becomes Lambda's error payload
            return None, {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }

    def close(self) -> None:
        """Stop every worker process (the pools stay readable) and the thread pool."""
        with self._pools_lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


def lambda_service_error(code: str, message: str, status: int = 500) -> ClientError:
    """A Lambda API error as boto3 raises it; the engine reports it as `Lambda.<code>`."""
    return service_error(code, message, status, operation="Invoke")


def service_error(code: str, message: str, status: int, *, operation: str) -> ClientError:
    """An AWS API error as boto3 raises it (e.g. StartExecution's ExecutionLimitExceeded, 400)."""
    error_response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())},
    }
    return ClientError(error_response, operation)


@dataclass
class _ConcurrencyQuota:
    """In-flight invokes per function and account-wide, refused over the limits as Lambda does."""

    account: int | None = None
    reserved: dict[str, int] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _unreserved_in_use(self) -> int:
        return sum(n for name, n in self.running.items() if name not in self.reserved)

    @contextmanager
    def slot(self, function_name: str) -> Iterator[None]:
        with self.lock:
            running = self.running.get(function_name, 0)
            if function_name in self.reserved:
                full = running >= self.reserved[function_name]
            else:
                pool = None if self.account is None else self.account - sum(self.reserved.values())
                full = pool is not None and self._unreserved_in_use() >= pool
            if full:
                self.refused.append(function_name)
                raise lambda_service_error(
                    "TooManyRequestsException",
                    "Rate Exceeded. (Reason: ConcurrentInvocationLimitExceeded)",
                    429,
                )
            self.running[function_name] = running + 1
        try:
            yield
        finally:
            with self.lock:
                self.running[function_name] -= 1


def _decode_payload(payload: Any) -> Any:
    if payload is None:
        return {}
    if hasattr(payload, "read"):
        payload = payload.read()
    if isinstance(payload, bytes | bytearray):
        payload = payload.decode()
    if isinstance(payload, str):
        return json.loads(payload) if payload else {}
    return payload


class _LambdaClientProxy:
    """Stands in for the boto3 Lambda client moto's engine builds; only Invoke is used."""

    def __init__(self, router: LambdaRouter) -> None:
        self._router = router

    def invoke(self, **parameters: Any) -> dict[str, Any]:
        return self._router.invoke(**parameters)


class _StepFunctionsClientProxy:
    """The Step Functions client of moto's `.sync` integration, with the router's start injector in
    front of StartExecution; everything else goes to the real (moto) client."""

    def __init__(self, client: Any, router: LambdaRouter) -> None:
        self._client = client
        self._router = router

    def start_execution(self, **parameters: Any) -> Any:
        if self._router.start_execution_injector is not None:
            self._router.start_execution_injector(parameters)
        return self._client.start_execution(**parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _ScaledTime:
    """A `time` module look-alike whose sleep is scaled, for moto's Retry back-off."""

    def __init__(self, scale: float) -> None:
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds * self._scale))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextmanager
def install(router: LambdaRouter, *, time_scale: float = 1.0) -> Iterator[LambdaRouter]:
    """Route moto's Lambda task invocations to `router`; scale Retry and Wait sleeps by `time_scale`.

    time_scale 1.0 keeps the ASL's real timing; 0.0 makes retries and waits immediate (tests).
    """
    verify_moto_internals()
    lambda_eval_utils = importlib.import_module(LAMBDA_EVAL_UTILS)
    retrier_decl = importlib.import_module(RETRIER_DECL)
    wait_function = importlib.import_module(WAIT_FUNCTION).WaitFunction
    original_client_for = lambda_eval_utils.boto_client_for
    proxy = _LambdaClientProxy(router)

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if service == "lambda":
            return proxy
        return original_client_for(region=region, service=service, state_credentials=state_credentials)

    sfn_service_task = importlib.import_module(SFN_SERVICE_TASK)
    original_sfn_client_for = sfn_service_task.boto_client_for

    def sfn_client_for(*args: Any, **kwargs: Any) -> Any:
        client = original_sfn_client_for(*args, **kwargs)
        return (
            _StepFunctionsClientProxy(client, router) if kwargs.get("service") == "stepfunctions" else client
        )

    def scaled_wait(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * time_scale)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(lambda_eval_utils, "boto_client_for", client_for))
        stack.enter_context(mock.patch.object(sfn_service_task, "boto_client_for", sfn_client_for))
        if time_scale != 1.0:
            stack.enter_context(mock.patch.object(retrier_decl, "time", _ScaledTime(time_scale)))
            stack.enter_context(mock.patch.object(wait_function, "_wait_interval", scaled_wait))
        yield router
