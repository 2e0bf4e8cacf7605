"""Lambda entry point of `image_convert_resize`
(handler string: lambdas.image_convert_resize.handler.handler)."""

from __future__ import annotations

from typing import Any

from lambdas.observability import MetricUnit, logger, metrics, tracer
from lambdas.services.convert import convert_resize
from lambdas.settings import ResizeSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = convert_resize(event, ResizeSettings.from_env())
    metrics.add_metric(name="RenditionsWritten", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RenditionBytes", unit=MetricUnit.Bytes, value=result["bytes"])
    logger.info("rendition written", extra={"rendition": result})
    return result
