"""Handlers for the Lambda seam's tests, importable by name in a worker process (as Lambda imports
a function's handler string)."""

from __future__ import annotations

import os
import time
from typing import Any


class FlakyError(Exception):
    """A retryable failure raised by the test function."""


class PermanentError(Exception):
    """A failure the ASL must not retry."""


_calls: dict[int, int] = {}  # per process: the environment stays warm between invocations


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails the first two calls of a `flaky` item in this process; says where it ran."""
    number = event.get("n", 0)
    _calls[number] = _calls.get(number, 0) + 1
    if event.get("flaky") and _calls[number] < 3:
        raise FlakyError("try again")
    return {
        "n": number,
        "stage": os.environ.get("STAGE"),
        "fn": context.function_name,
        "pid": os.getpid(),
        "calls": _calls[number],
        "remainingMs": context.get_remaining_time_in_millis(),
        "region": os.environ.get("AWS_REGION"),
    }


def failing(event: dict[str, Any], context: Any) -> None:
    print("about to fail")
    raise PermanentError("outputWidth: must be positive")


def sleepy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(event.get("seconds", 2)))
    return {"pid": os.getpid()}


def exits(event: dict[str, Any], context: Any) -> None:
    os._exit(3)


def metered_failure(event: dict[str, Any], context: Any) -> None:
    """A worker that records a metric, then fails with a typed error (the standard decorators)."""
    from lambdas.core.errors import InvalidRecipeError
    from lambdas.observability import MetricUnit, logger, metrics, tracer

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="AttemptsBeforeFailure", unit=MetricUnit.Count, value=1)
        raise InvalidRecipeError("outputSizes", "must not be empty")

    handler(event, context)


def environment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The variables named in the event, as this environment sees them, and its process id."""
    return {"pid": os.getpid(), "environment": {name: os.environ.get(name) for name in event["names"]}}
