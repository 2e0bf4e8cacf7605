"""image_multiple_convert_resize: validate the request and build the dynamic-fork plan (no I/O)."""

from __future__ import annotations

from typing import Any

from lambdas.adapters.sources import check_location
from lambdas.core.inputs import PlanInput, build_validators
from lambdas.core.planner import plan
from lambdas.settings import PlannerSettings

build_validators(PlanInput)  # at init: the input models are deferred (lambdas.core.inputs)


def plan_renditions(event: Any, settings: PlannerSettings) -> dict[str, Any]:
    """Plan, then refuse a bad fileLocation before fanning out N workers that would each refuse it."""
    result = plan(event, max_dimension=settings.max_output_dimension, max_fanout=settings.max_fanout)
    check_location(result["dynamicForkItems"][0]["input"]["fileLocation"], settings)
    return result
