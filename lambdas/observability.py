"""Powertools Logger, Tracer and Metrics: one instance each per process, and `instrumented`, the
decorator every handler wears.

The singletons are created at import (Powertools needs them for its decorators), but everything that
depends on the environment (service name, metrics namespace) is re-read on each invocation, because
tests patch the environment and the local runtime gives each in-process invocation its own.
Tracing is off outside Lambda (no LAMBDA_TASK_ROOT) and when POWERTOOLS_TRACE_DISABLED is set.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

DEFAULT_NAMESPACE = "imgpipe"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

__all__ = ["MetricUnit", "instrumented", "logger", "metrics", "tracer"]


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
