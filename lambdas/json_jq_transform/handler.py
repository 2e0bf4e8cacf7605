"""Lambda entry point of `json_jq_transform` (handler string: lambdas.json_jq_transform.handler.handler)."""

from __future__ import annotations

from typing import Any

from lambdas.json_jq_transform.transform import transform
from lambdas.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return transform(event)
