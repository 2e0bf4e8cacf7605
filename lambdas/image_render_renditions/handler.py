"""Lambda entry point of `image_render_renditions`
(handler string: lambdas.image_render_renditions.handler.handler)."""

from __future__ import annotations

from typing import Any

from lambdas.observability import MetricUnit, logger, metrics, tracer
from lambdas.services.render_all import render_renditions
from lambdas.settings import RenderAllSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = render_renditions(event, RenderAllSettings.from_env())
    metrics.add_metric(name="RenditionsWritten", unit=MetricUnit.Count, value=result["rendered"])
    metrics.add_metric(name="RenditionsSkipped", unit=MetricUnit.Count, value=result["skipped"])
    logger.info("renditions written", extra={"rendered": result["rendered"], "skipped": result["skipped"]})
    return result
