"""Lambda entry point of `image_multiple_convert_resize`
(handler string: lambdas.image_multiple_convert_resize.handler.handler). Imports no Pillow."""

from __future__ import annotations

from typing import Any

from lambdas.observability import MetricUnit, logger, metrics, tracer
from lambdas.services.plan import plan_renditions
from lambdas.settings import PlannerSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = plan_renditions(event, PlannerSettings.from_env())
    metrics.add_metric(name="RenditionsPlanned", unit=MetricUnit.Count, value=len(result["dynamicForkItems"]))
    logger.info("plan built", extra={"renditions": len(result["dynamicForkItems"])})
    return result
