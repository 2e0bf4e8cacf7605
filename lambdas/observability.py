"""Powertools Logger, Tracer and Metrics: one instance each per process, and `instrumented`, the
decorator every handler wears.

The singletons are created at import (Powertools needs them for its decorators), but everything that
depends on the environment (service name, metrics namespace) is re-read on each invocation, because
tests patch the environment and the local runtime gives each in-process invocation its own.

Tracing is off outside Lambda (no LAMBDA_TASK_ROOT), under SAM/Chalice local and when
POWERTOOLS_TRACE_DISABLED is set (Powertools' own rule, `Tracer._is_tracer_disabled`). When it is
off, the Tracer gets a no-op provider: Powertools' default provider imports `aws_xray_sdk.core`
(300-650 ms, and it patches botocore) even when tracing is disabled. On Lambda with tracing on, the
Tracer is built exactly as Powertools builds it (X-Ray recorder, botocore patched).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

DEFAULT_NAMESPACE = "imgpipe"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

__all__ = ["MetricUnit", "instrumented", "logger", "metrics", "tracer", "tracing_enabled"]


class _NoOpSegment(BaseSegment):
    """A segment that records nothing (tracing is off)."""

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        return None


class _NoOpProvider(BaseProvider):
    """Tracing provider used when tracing is off, so that the X-Ray SDK is never imported."""

    @contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NoOpSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: Any = None, **kwargs: Any) -> Any:
        yield _NoOpSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Any) -> None:
        return None

    def patch_all(self) -> None:
        return None


def tracing_enabled() -> bool:
    """Powertools' rule for when the Tracer is active, evaluated without importing the X-Ray SDK."""
    return not Tracer._is_tracer_disabled()


def _build_tracer() -> Tracer:
    if tracing_enabled():
        return Tracer()
    return Tracer(disabled=True, auto_patch=False, provider=_NoOpProvider())


logger = Logger()
tracer = _build_tracer()
metrics = Metrics()


def instrumented(handler: Handler) -> Handler:
    """Logger context, X-Ray capture and EMF metrics (with a cold-start metric) around a handler.

    Typed errors propagate unchanged: their class name is the Step Functions error name."""
    wrapped = logger.inject_lambda_context(
        tracer.capture_lambda_handler(metrics.log_metrics(handler, capture_cold_start_metric=True))
    )

    @functools.wraps(handler)
    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        service = os.environ.get("POWERTOOLS_SERVICE_NAME") or handler.__module__.split(".")[1]
        metrics.provider.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
        metrics.provider.service = service
        logger.append_keys(service=service)
        return wrapped(event, context)

    return invoke
