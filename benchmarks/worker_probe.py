"""A measuring handler for the benchmarks: runs a real worker handler in its execution environment
(a worker process of the local runtime, imgpipe/local/lambda_seam.py) and reports what the
invocation cost, as one `{"imgpipe_probe": {...}}` line of the invocation's output.

A worker process serves one invocation at a time, so the process's CPU time over the call is the
invocation's; S3 requests are counted with botocore hooks on the worker's own client.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

WRAPPED_VARIABLE = "IMGPIPE_BENCH_WRAPPED_HANDLER"
HANDLER = f"{__name__}.handler"
PROBE_KEY = "imgpipe_probe"


class _S3Meter:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.cpu_ms = 0.0
        self._started = 0.0

    def before(self, model: Any, **_: Any) -> None:
        self.requests[model.name] += 1
        self._started = time.process_time()

    def after(self, **_: Any) -> None:
        self.cpu_ms += (time.process_time() - self._started) * 1000


_state: dict[str, Any] = {}


def _prepared() -> tuple[Callable[[Any, Any], Any], _S3Meter]:
    if not _state:
        module, _, name = os.environ[WRAPPED_VARIABLE].rpartition(".")
        meter = _S3Meter()
        from lambdas.adapters import s3 as s3_adapter

        events = s3_adapter.client().meta.events
        events.register("before-call.s3", meter.before)
        events.register("after-call.s3", meter.after)
        _state.update(handler=getattr(importlib.import_module(module), name), meter=meter)
    return _state["handler"], _state["meter"]


def handler(event: Any, context: Any) -> Any:
    real, meter = _prepared()
    meter.requests.clear()
    meter.cpu_ms = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        return real(event, context)
    finally:
        probe = {
            "wall_ms": (time.perf_counter() - wall) * 1000,
            "cpu_ms": (time.process_time() - cpu) * 1000,
            "s3_cpu_ms": meter.cpu_ms,
            "s3_requests": dict(meter.requests),
        }
        print(json.dumps({PROBE_KEY: probe}), flush=True)


def environment(handler_string: str) -> dict[str, str]:
    """The function environment variables that make `handler` wrap `handler_string`."""
    return {WRAPPED_VARIABLE: handler_string}


def probes(outputs: Iterable[str]) -> list[dict[str, Any]]:
    """The probe of each invocation output that has one, in order."""
    found = []
    for output in outputs:
        for line in output.splitlines():
            if line.startswith('{"' + PROBE_KEY):
                found.append(json.loads(line)[PROBE_KEY])
    return found


def is_probe_line(line: bytes) -> bool:
    return line.startswith(b'{"' + PROBE_KEY.encode())


def probed_tasks(tasks: Iterable[str], default_handler: Callable[[str], str]) -> Mapping[str, Any]:
    """LocalAws options that run every task in `tasks` under the probe."""
    wanted = set(tasks)
    return {
        "handler_for": lambda task: HANDLER if task in wanted else default_handler(task),
        "extra_environment": {task: environment(default_handler(task)) for task in wanted},
    }
