"""Powertools Logger, Tracer and Metrics for the workers, and `instrumented`, the decorator every
handler wears.

Per invocation, not per process: on Lambda an execution environment runs one invocation at a time,
but the local runtime (imgpipe/local/lambda_seam.py) runs concurrent Map iterations as threads of one
process, each in its own copied `contextvars` context. So the state that belongs to an invocation
lives in that context: its metrics in a fresh `AmazonCloudWatchEMFProvider` held in a `ContextVar`
(Powertools' `Metrics` instances share class-level dicts, so a `Metrics` per invocation would not
do), reached through the module-level `metrics` proxy and flushed by Powertools' `log_metrics` when
the handler returns or raises; its log keys (Lambda context, cold start, service) through the
Logger's `thread_safe_append_keys`, which Powertools keeps in a `ContextVar` too, cleared afterwards.
Service name and metrics namespace are read from the (per-invocation) environment on each call.

Tracing is off outside Lambda (no LAMBDA_TASK_ROOT), under SAM/Chalice local and when
POWERTOOLS_TRACE_DISABLED is set (Powertools' own rule, `Tracer._is_tracer_disabled`). When it is
off, the Tracer gets a no-op provider: Powertools' default provider imports `aws_xray_sdk.core`
(300-650 ms, and it patches botocore) even when tracing is disabled. On Lambda with tracing on, the
Tracer is Powertools' X-Ray one, patching only `TRACED_MODULES`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.logging.logger import _is_cold_start as _logger_cold_start
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import (
    extract_event_from_common_models,
    resolve_truthy_env_var_choice,
)
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

DEFAULT_NAMESPACE = "imgpipe"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

__all__ = [
    "InvocationMetrics",
    "MetricUnit",
    "NoInvocationError",
    "instrumented",
    "logger",
    "metrics",
    "tracer",
    "tracing_enabled",
]


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


# The workers' AWS calls (S3) go through botocore. Powertools' default patches every module the
# X-Ray SDK's patch_all knows (sqlite3, requests, databases, aiobotocore...), importing each that is
# installed: ~45 ms more cold init (measured, docs/performance.md) for calls these workers never make.
TRACED_MODULES = ("botocore",)


def _build_tracer() -> Tracer:
    if tracing_enabled():
        return Tracer(patch_modules=TRACED_MODULES)
    return Tracer(disabled=True, auto_patch=False, provider=_NoOpProvider())


class NoInvocationError(RuntimeError):
    """A metric was recorded outside an `instrumented` handler: nothing would ever flush it."""


_invocation_metrics: ContextVar[AmazonCloudWatchEMFProvider | None] = ContextVar(
    "imgpipe_invocation_metrics", default=None
)


class InvocationMetrics:
    """The current invocation's EMF metrics, so handlers keep writing `metrics.add_metric(...)`."""

    @property
    def provider(self) -> AmazonCloudWatchEMFProvider:
        provider = _invocation_metrics.get()
        if provider is None:
            raise NoInvocationError("metrics: used outside an instrumented handler invocation")
        return provider

    def add_metric(self, name: str, unit: MetricUnit | str, value: float, resolution: int = 60) -> None:
        self.provider.add_metric(name=name, unit=unit, value=value, resolution=resolution)

    def add_dimension(self, name: str, value: str) -> None:
        self.provider.add_dimension(name=name, value=value)

    def add_metadata(self, key: str, value: Any) -> None:
        self.provider.add_metadata(key=key, value=value)


logger = Logger()
tracer = _build_tracer()
metrics = InvocationMetrics()


def _log_event_enabled() -> bool:
    """POWERTOOLS_LOGGER_LOG_EVENT, read per invocation (the environment is per invocation locally)."""
    return resolve_truthy_env_var_choice(env=os.environ.get(constants.LOGGER_LOG_EVENT_ENV, "false"))


def instrumented(handler: Handler) -> Handler:
    """Log keys, X-Ray capture and EMF metrics (with a cold-start metric) around a handler, all
    scoped to the invocation. Powertools' `inject_lambda_context` is not used because it appends
    the keys to the Logger's shared state; the same keys are set per invocation here instead.

    Typed errors propagate unchanged: their class name is the Step Functions error name."""

    @functools.wraps(handler)  # the X-Ray subsegment is named after it: `## handler`
    def metered(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Powertools' own decorator on this invocation's provider: cold-start metric, flush in a finally.
        measured: Handler = metrics.provider.log_metrics(handler, capture_cold_start_metric=True)
        return measured(event, context)

    traced = tracer.capture_lambda_handler(metered)

    @functools.wraps(handler)
    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        service = os.environ.get("POWERTOOLS_SERVICE_NAME") or handler.__module__.split(".")[1]
        namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
        metrics_token = _invocation_metrics.set(
            AmazonCloudWatchEMFProvider(namespace=namespace, service=service)
        )
        cold_start = _logger_cold_start()
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(
            cold_start=cold_start, service=service, **build_lambda_context_model(context).__dict__
        )
        if logger.sampling_rate and not cold_start:
            logger.refresh_sample_rate_calculation()
        try:
            if _log_event_enabled():
                logger.info(extract_event_from_common_models(event))
            return traced(event, context)
        finally:
            logger.thread_safe_clear_keys()
            _invocation_metrics.reset(metrics_token)

    return invoke
