"""Lambda entry point of `upload_toS3` (handler string: lambdas.upload_toS3.handler.handler)."""

from __future__ import annotations

from typing import Any

from lambdas.observability import MetricUnit, logger, metrics, tracer
from lambdas.services.publish import publish
from lambdas.settings import UploadSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = publish(event, UploadSettings.from_env())
    metrics.add_metric(name="RenditionsPublished", unit=MetricUnit.Count, value=1)
    logger.info("rendition published", extra={"publication": result})
    return result
