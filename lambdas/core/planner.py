"""image_multiple_convert_resize: the dynamic-fork plan.

`dynamicTasks` and `dynamicTasksInput` have orkesworkers' shapes (task `image_convert_resize`,
reference `image_convert_resize_<fmt>_<w>x<h>_<i>`, `i` counting across formats x sizes);
`dynamicForkItems` is the same plan as a list, because an ASL Map state iterates lists and JSONPath
cannot look a map up by a computed key.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from lambdas.core.errors import InvalidRecipeError
from lambdas.core.inputs import PlanInput, RecipeGrid, make_recipe, parse_event
from lambdas.core.recipe import Recipe, canonical_format

RESIZE_TASK = "image_convert_resize"
# Step Functions' payload limit is 256 KB. At MAX_FANOUT=50 a typical plan is 45-57 KB; the worst case
# (a 1024-character fileLocation, every optional field, sub-workflows) is ~149 KB: refuse beyond 160 KB,
# leaving the rest of the state's payload to the workflow.
MAX_PLAN_BYTES = 160 * 1024
_OPTIONAL_FIELDS = ("fit", "upscale", "quality", "background", "stripMetadata", "gravity")


@dataclass(frozen=True)
class PlannedRendition:
    """One cell of the formats x sizes grid: the caller's spelling of the format and its recipe."""

    spelling: str
    width: int
    height: int
    recipe: Recipe


def planned_renditions(parsed: RecipeGrid, *, max_dimension: int, max_fanout: int) -> list[PlannedRendition]:
    """Every rendition the request names, deduplicated (first spelling wins), in formats x sizes
    order, each recipe validated now so a bad one fails the request before any work; errors name
    the caller's fields (`outputFormats.<i>`, `outputSizes.<i>.width`)."""
    formats: dict[str, tuple[str, str]] = {}  # canonical name -> (caller's spelling, its field)
    for index, spelling in enumerate(parsed.outputFormats):
        field = f"outputFormats.{index}"
        formats.setdefault(canonical_format(spelling, field).name, (spelling.strip().lower(), field))
    sizes: dict[tuple[int, int], tuple[str, str]] = {}  # (width, height) -> its fields, first wins
    for index, size in enumerate(parsed.outputSizes):
        sizes.setdefault(
            (size.width, size.height), (f"outputSizes.{index}.width", f"outputSizes.{index}.height")
        )
    count = len(formats) * len(sizes)
    if count > max_fanout:
        raise InvalidRecipeError(
            "outputSizes",
            f"{len(formats)} formats x {len(sizes)} sizes = {count} renditions "
            f"exceeds MAX_FANOUT={max_fanout}",
        )
    return [
        PlannedRendition(
            spelling,
            width,
            height,
            make_recipe(
                parsed,
                canonical,
                width,
                height,
                max_dimension=max_dimension,
                fields=(format_field, width_field, height_field),
            ),
        )
        for (canonical, (spelling, format_field)), ((width, height), (width_field, height_field)) in (
            itertools.product(formats.items(), sizes.items())
        )
    ]


def plan(event: Any, *, max_dimension: int, max_fanout: int) -> dict[str, Any]:
    parsed = parse_event(event, PlanInput)
    options = parsed.model_dump(include=set(_OPTIONAL_FIELDS), exclude_unset=True)
    tasks = [
        _task(
            f"{RESIZE_TASK}_{item.spelling}_{item.width}x{item.height}_{index}",
            {
                "fileLocation": parsed.fileLocation,
                "outputFormat": item.spelling,
                "outputWidth": item.width,
                "outputHeight": item.height,
                "maintainAspectRatio": parsed.maintainAspectRatio,
                **options,
            },
            parsed,
        )
        for index, item in enumerate(
            planned_renditions(parsed, max_dimension=max_dimension, max_fanout=max_fanout)
        )
    ]
    result = {
        "dynamicTasks": [{key: value for key, value in task.items() if key != "input"} for task in tasks],
        "dynamicTasksInput": {task["taskReferenceName"]: task["input"] for task in tasks},
        "dynamicForkItems": [_fork_item(task) for task in tasks],
    }
    payload_bytes = len(json.dumps(result, separators=(",", ":")))
    if payload_bytes > MAX_PLAN_BYTES:
        raise InvalidRecipeError(
            "outputSizes", f"the plan is {payload_bytes} bytes, over the {MAX_PLAN_BYTES}-byte cap"
        )
    return result


def _task(reference: str, task_input: dict[str, Any], parsed: PlanInput) -> dict[str, Any]:
    """One Conductor dynamic task (orkesworkers' shape) with its input under "input"."""
    if parsed.subWorkflowName:
        name = parsed.subWorkflowName
        return {
            "name": name,
            "taskReferenceName": reference,
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": name, "version": parsed.subWorkflowVersion or 1},
            "input": task_input,
        }
    return {"name": RESIZE_TASK, "taskReferenceName": reference, "type": "SIMPLE", "input": task_input}


def _fork_item(task: dict[str, Any]) -> dict[str, Any]:
    """The Map state's item for a task: the same reference, name, type and input (+ the sub-workflow)."""
    item = {key: task[key] for key in ("taskReferenceName", "name", "type", "input")}
    if "subWorkflowParam" in task:
        item["subWorkflowName"] = task["subWorkflowParam"]["name"]
    return item
