"""Small stand-ins for the workers: they compute their answer from their input, so a test can tell
exactly which input reached which task."""

from __future__ import annotations

from typing import Any


class TransientSourceError(Exception):
    """Same name as the workers' retryable error: the ASL retries it."""


class InvalidRecipeError(Exception):
    """Same name as the workers' non-retryable error: the ASL must not retry it."""


def resize(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    source = event["fileLocation"].rsplit("/", 1)[-1]
    key = f"{source}.{event['outputWidth']}x{event['outputHeight']}.{event['outputFormat']}"
    return {
        "fileLocation": f"s3://work/{key}",
        "outputWidth": event["outputWidth"],
        "outputHeight": event["outputHeight"],
        "outputFormat": event["outputFormat"],
        "sourceLocation": event["fileLocation"],
        "maintainAspectRatio": event.get("maintainAspectRatio"),
    }


def upload(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    key = event["fileLocation"].split("/", 3)[-1]
    return {"fileLocation": f"s3://out/renditions/{key}", "s3Url": f"https://out.example/renditions/{key}"}


def plan(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """The planner's three shapes (dynamicTasks, dynamicTasksInput, dynamicForkItems)."""
    tasks, inputs, items = [], {}, []
    index = 0
    child = event.get("subWorkflowName")
    for output_format in event["outputFormats"]:
        for size in event["outputSizes"]:
            ref = f"image_convert_resize_{output_format}_{size['width']}x{size['height']}_{index}"
            index += 1
            task_input = {
                "fileLocation": event["fileLocation"],
                "outputFormat": output_format,
                "outputWidth": size["width"],
                "outputHeight": size["height"],
                "maintainAspectRatio": event.get("maintainAspectRatio"),
            }
            inputs[ref] = task_input
            name = child or "image_convert_resize"
            kind = "SUB_WORKFLOW" if child else "SIMPLE"
            tasks.append({"name": name, "taskReferenceName": ref, "type": kind})
            item = {"taskReferenceName": ref, "name": name, "type": kind, "input": task_input}
            if child:
                item["subWorkflowName"] = child
            items.append(item)
    return {"dynamicTasks": tasks, "dynamicTasksInput": inputs, "dynamicForkItems": items}


def project_workers(engine: Any) -> None:
    engine.function("image_convert_resize", resize)
    engine.function("upload_toS3", upload)
    engine.function("image_multiple_convert_resize", plan)
