"""Lambda entry point of `javascript_evaluator` (handler: lambdas.javascript_evaluator.handler.handler)."""

from __future__ import annotations

from typing import Any

from lambdas.javascript_evaluator.task import evaluate_request
from lambdas.observability import logger, metrics, tracer
from lambdas.settings import JavaScriptSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return evaluate_request(event, JavaScriptSettings.from_env())
