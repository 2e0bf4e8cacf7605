"""image_multiple_convert_resize: the dynamic-fork plan.

`dynamicTasks` and `dynamicTasksInput` have orkesworkers' shapes (task `image_convert_resize`,
reference `image_convert_resize_<fmt>_<w>x<h>_<i>`, `i` counting across formats x sizes);
`dynamicForkItems` is the same plan as a list, because an ASL Map state iterates lists and JSONPath
cannot look a map up by a computed key.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.core.errors import InvalidRecipeError
from lambdas.core.recipe import PlanInput, canonical_format, make_recipe, parse_event

RESIZE_TASK = "image_convert_resize"
# Step Functions' payload limit is 256 KB. At MAX_FANOUT=50 a typical plan is 45-57 KB; the worst case
# (a 1024-character fileLocation, every optional field, sub-workflows) is ~149 KB: refuse beyond 160 KB,
# leaving the rest of the state's payload to the workflow.
MAX_PLAN_BYTES = 160 * 1024
_OPTIONAL_FIELDS = ("fit", "upscale", "quality", "background", "stripMetadata")


def plan(event: Any, *, max_dimension: int, max_fanout: int) -> dict[str, Any]:
    parsed = parse_event(event, PlanInput)

    formats: dict[str, str] = {}  # canonical name -> the caller's spelling, first one wins
    for index, spelling in enumerate(parsed.outputFormats):
        fmt = canonical_format(spelling, f"outputFormats.{index}")
        formats.setdefault(fmt.name, spelling.strip().lower())
    sizes: list[tuple[int, int]] = []
    for index, size in enumerate(parsed.outputSizes):
        for name, value in (("width", size.width), ("height", size.height)):
            if value > max_dimension:
                raise InvalidRecipeError(
                    f"outputSizes.{index}.{name}", f"{value} exceeds the maximum of {max_dimension} pixels"
                )
        if (size.width, size.height) not in sizes:
            sizes.append((size.width, size.height))
    count = len(formats) * len(sizes)
    if count > max_fanout:
        raise InvalidRecipeError(
            "outputSizes",
            f"{len(formats)} formats x {len(sizes)} sizes = {count} renditions "
            f"exceeds MAX_FANOUT={max_fanout}",
        )

    options = parsed.model_dump(include=set(_OPTIONAL_FIELDS), exclude_unset=True)
    tasks: list[dict[str, Any]] = []
    inputs: dict[str, dict[str, Any]] = {}
    items: list[dict[str, Any]] = []
    index = 0
    for canonical, spelling in formats.items():
        for width, height in sizes:
            make_recipe(
                parsed, canonical, width, height, max_dimension=max_dimension
            )  # fail now, not in the fork
            reference = f"{RESIZE_TASK}_{spelling}_{width}x{height}_{index}"
            index += 1
            task_input = {
                "fileLocation": parsed.fileLocation,
                "outputFormat": spelling,
                "outputWidth": width,
                "outputHeight": height,
                "maintainAspectRatio": parsed.maintainAspectRatio,
                **options,
            }
            inputs[reference] = task_input
            if parsed.subWorkflowName:
                name = parsed.subWorkflowName
                version = parsed.subWorkflowVersion or 1
                tasks.append(
                    {
                        "name": name,
                        "taskReferenceName": reference,
                        "type": "SUB_WORKFLOW",
                        "subWorkflowParam": {"name": name, "version": version},
                    }
                )
                items.append(
                    {
                        "taskReferenceName": reference,
                        "name": name,
                        "type": "SUB_WORKFLOW",
                        "subWorkflowName": name,
                        "input": task_input,
                    }
                )
            else:
                tasks.append({"name": RESIZE_TASK, "taskReferenceName": reference, "type": "SIMPLE"})
                items.append(
                    {
                        "taskReferenceName": reference,
                        "name": RESIZE_TASK,
                        "type": "SIMPLE",
                        "input": task_input,
                    }
                )
    result = {"dynamicTasks": tasks, "dynamicTasksInput": inputs, "dynamicForkItems": items}
    payload_bytes = len(json.dumps(result, separators=(",", ":")))
    if payload_bytes > MAX_PLAN_BYTES:
        raise InvalidRecipeError(
            "outputSizes", f"the plan is {payload_bytes} bytes, over the {MAX_PLAN_BYTES}-byte cap"
        )
    return result
