"""Powertools Logger, Tracer and Metrics of a worker, one of each per execution environment.

A Lambda execution environment runs one invocation at a time and its environment variables are
fixed, so these are built once at import, from the environment (POWERTOOLS_SERVICE_NAME,
POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL, ...), and each handler wears Powertools' own
decorators: `logger.inject_lambda_context`, `tracer.capture_lambda_handler`,
`metrics.log_metrics(capture_cold_start_metric=True)`. The local runtime runs every invocation in
a worker process of its function (imgpipe/local/lambda_environments.py), as Lambda does.

Tracing is on only on Lambda (LAMBDA_TASK_ROOT set), not under SAM or Chalice local, and not when
POWERTOOLS_TRACE_DISABLED is set (Powertools' own rule for when its Tracer is active): when
it is off, the Tracer gets a no-op provider (Powertools' public `BaseProvider`), because Powertools'
default provider imports `aws_xray_sdk.core` (300-650 ms, and it patches botocore) even when tracing
is disabled. With tracing on, the Tracer is Powertools' X-Ray one, patching only `TRACED_MODULES`.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

DEFAULT_NAMESPACE = "imgpipe"
# The workers' AWS calls (S3) go through botocore. Powertools' default patches every module the
# X-Ray SDK's patch_all knows (sqlite3, requests, databases, aiobotocore...), importing each that is
# installed: ~45 ms more cold init (measured, docs/performance.md) for calls these workers never make.
TRACED_MODULES = ("botocore",)

__all__ = ["MetricUnit", "logger", "metrics", "tracer", "tracing_enabled"]


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


def _truthy(variable: str) -> bool:
    return os.environ.get(variable, "false").strip().lower() in ("1", "true", "yes", "on", "y", "t")


def tracing_enabled() -> bool:
    """Powertools' rule for an active Tracer, read from the environment without importing X-Ray."""
    local = bool(os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"))
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not local and not _truthy("POWERTOOLS_TRACE_DISABLED")


def _build_tracer() -> Tracer:
    if tracing_enabled():
        return Tracer(patch_modules=TRACED_MODULES)
    return Tracer(disabled=True, auto_patch=False, provider=_NoOpProvider())


logger = Logger()
tracer = _build_tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE)
