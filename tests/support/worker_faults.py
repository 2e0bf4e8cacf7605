"""Faults injected inside a worker's execution environment, where they happen on AWS.

The local runtime runs each function in worker processes of its own (imgpipe/local/lambda_seam.py),
so a test cannot wrap a handler in a closure: it deploys this module's `handler` instead, which
runs the real handler named by its plan and fails, hangs or breaks S3 as the plan says. The plan is
JSON in the function's environment (`FaultPlan.environment()`); what must be counted across the
function's processes (calls, successes) is counted with files in the plan's `state_dir`.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PLAN_VARIABLE = "IMGPIPE_TEST_FAULT_PLAN"
HANDLER = f"{__name__}.handler"
GUARD_SECONDS = 25.0  # how long a fault waits for other invocations: a hang guard, not a threshold


@dataclass
class FaultPlan:
    """What the wrapped handler does instead of, or around, the real one."""

    handler: str  # the real handler string
    state_dir: str
    fail_first: int = 0  # the first N affected invocations (across the function's processes) fail
    error: str = "lambdas.core.errors.TransientSourceError"
    message: str = "injected"
    hang_seconds: float = 0.0  # instead of failing: sleep, to outlive the function timeout
    when: dict[str, Any] = field(default_factory=dict)  # only events with these fields are affected
    while_exists: str = ""  # ... and only while this file exists
    wait_for_successes: int = 0  # before failing, wait until this many unaffected invocations succeeded
    s3_operation: str = ""  # HTTP faults on the worker's S3 client: this operation's first attempts
    s3_fault: str = ""  # "SlowDown" (503) or "ConnectionRefused"
    s3_count: int = 0
    setup: str = ""  # "module.function" called once per process with the plan (a fake internet...)

    def environment(self) -> dict[str, str]:
        return {PLAN_VARIABLE: json.dumps(asdict(self))}

    def count(self, name: str) -> int:
        """How many `name` marks the function's processes made (calls, s3-calls, successes)."""
        return len(list(Path(self.state_dir).glob(f"{name}-*")))


def _mark(state_dir: str, name: str) -> int:
    """Record one more `name` (atomic across processes); returns its ordinal, 1-based."""
    ordinal = 1
    while True:
        try:
            os.close(os.open(os.path.join(state_dir, f"{name}-{ordinal}"), os.O_CREAT | os.O_EXCL))
            return ordinal
        except FileExistsError:
            ordinal += 1


def _symbol(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _plan() -> FaultPlan:
    return FaultPlan(**json.loads(os.environ[PLAN_VARIABLE]))


_prepared: list[Callable[[Any, Any], Any]] = []
_lock = threading.Lock()


def _prepare(plan: FaultPlan) -> Callable[[Any, Any], Any]:
    with _lock:
        if not _prepared:
            if plan.setup:
                _symbol(plan.setup)(plan)
            if plan.s3_operation:
                _break_s3(plan)
            _prepared.append(_symbol(plan.handler))
        return _prepared[0]


def _affected(plan: FaultPlan, event: Mapping[str, Any]) -> bool:
    if any(event.get(key) != value for key, value in plan.when.items()):
        return False
    return not plan.while_exists or os.path.exists(plan.while_exists)


def handler(event: dict[str, Any], context: Any) -> Any:
    plan = _plan()
    real = _prepare(plan)
    if not _affected(plan, event):
        result = real(event, context)
        _mark(plan.state_dir, "success")
        return result
    if _mark(plan.state_dir, "call") > plan.fail_first:
        return real(event, context)
    deadline = time.monotonic() + GUARD_SECONDS
    while plan.count("success") < plan.wait_for_successes and time.monotonic() < deadline:
        time.sleep(0.05)
    if plan.hang_seconds:
        time.sleep(plan.hang_seconds)
        return None
    raise _symbol(plan.error)("fileLocation", plan.message)


# --- S3 faults, in the HTTP layer of the worker's own client (botocore `before-send`) -------------
class _Raw:
    """The raw stream botocore reads an HTTP response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        return self._body


def _slow_down(request: Any) -> Any:
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
        b"<Message>Please reduce your request rate.</Message><RequestId>FAULT</RequestId></Error>"
    )
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/xml"
    return AWSResponse(request.url, 503, headers, _Raw(body))


def _connection_refused(request: Any) -> Any:
    from botocore.exceptions import EndpointConnectionError

    raise EndpointConnectionError(endpoint_url=request.url)


S3_FAULTS = {"SlowDown": _slow_down, "ConnectionRefused": _connection_refused}


def _break_s3(plan: FaultPlan) -> None:
    from lambdas.adapters import s3 as s3_adapter

    fault = S3_FAULTS[plan.s3_fault]

    def inject(request: Any, **_: Any) -> Any:
        return fault(request) if _mark(plan.state_dir, "s3-call") <= plan.s3_count else None

    s3_adapter.client().meta.events.register_first(f"before-send.s3.{plan.s3_operation}", inject)
    # botocore's own retries stay (the adapter's error mapping sees them), without their back-off
    # sleeps: the test is about which attempts fail, not about waiting.
    from botocore.retries import standard

    standard.ExponentialBackoff.delay_amount = lambda self, context: 0.0  # type: ignore[method-assign]
