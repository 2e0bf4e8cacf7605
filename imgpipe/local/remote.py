"""Finding a deployed workflow and building its input, for `imgpipe start` and `imgpipe watch`.

Works against any Step Functions endpoint: AWS (the state machine from the CloudFormation stack's
outputs, or an ARN) or ``imgpipe serve`` (``--endpoint-url``, state machines by their deployed name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imgpipe.config import DeploymentConfig, state_machine_output_key
from imgpipe.local.runner import UsageError

SINGLE_RENDITION_RECIPE = "image_convert_resize"  # {fileLocation, recipeParameters{...}} (seeds 000/001)
FLAT_RECIPE = "image_resize_upload"  # the sub-workflow's flat fields
FIXED_RENDITIONS = "image_convert_resize_multiple_formats"  # formats and sizes are in the workflow
SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$")
STATE_MACHINE_ARN = re.compile(r"^arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:[\w.-]+$")
EXECUTION_ARN = re.compile(r"^arn:aws[\w-]*:states:[\w-]+:\d{12}:execution:[\w.-]+:[\w.-]+$")


@dataclass(frozen=True)
class Target:
    """The state machine to start, and where its renditions land (when known)."""

    state_machine_arn: str
    workflow: str | None  # the Conductor workflow name, when it can be told
    input_bucket: str | None = None
    output_bucket: str | None = None


def output_key(workflow_name: str) -> str:
    """The stack output holding a workflow's state machine ARN."""
    return state_machine_output_key(workflow_name)


def workflow_of(state_machine_arn: str, config: DeploymentConfig) -> str | None:
    """The Conductor workflow name behind a deployed state machine name (`<prefix>-<workflow>`)."""
    name = state_machine_arn.rsplit(":", 1)[-1]
    prefix = f"{config.prefix}-"
    return name[len(prefix) :] if name.startswith(prefix) else None


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    if not stacks:
        raise UsageError(f"--stack-name: no stack {stack_name!r}")
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def from_stack(outputs: Mapping[str, str], workflow: str, stack_name: str) -> Target:
    key = output_key(workflow)
    if key not in outputs:
        known = sorted(k for k in outputs if k.startswith("StateMachineArn"))
        raise UsageError(
            f"workflow {workflow!r}: stack {stack_name!r} has no output {key} (its state machines: "
            f"{', '.join(known) or 'none'})"
        )
    return Target(
        state_machine_arn=outputs[key],
        workflow=workflow,
        input_bucket=outputs.get("InputBucketName"),
        output_bucket=outputs.get("OutputBucketName"),
    )


def from_name(sfn: Any, workflow: str, config: DeploymentConfig) -> Target:
    """A state machine by Conductor workflow name or deployed name (``imgpipe serve``, or AWS)."""
    wanted = {workflow, config.state_machine_name(workflow)}
    names: list[str] = []
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            names.append(machine["name"])
            if machine["name"] in wanted:
                arn = machine["stateMachineArn"]
                return Target(arn, workflow_of(arn, config) or workflow)
    raise UsageError(
        f"unknown workflow {workflow!r}: no state machine named {config.state_machine_name(workflow)!r} "
        f"at this endpoint (there: {', '.join(sorted(names)) or 'none'})"
    )


def parse_formats(text: str) -> list[str]:
    formats = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not formats:
        raise UsageError("--formats: give one or more formats, e.g. png,jpg,webp")
    return formats


def parse_sizes(text: str) -> list[dict[str, int]]:
    sizes = []
    for part in [p for p in text.split(",") if p.strip()]:
        match = SIZE.match(part)
        if not match:
            raise UsageError(f"--sizes: {part.strip()!r} is not WIDTHxHEIGHT (e.g. 300x300)")
        width, height = int(match.group(1)), int(match.group(2))
        if width < 1 or height < 1:
            raise UsageError(f"--sizes: {part.strip()!r}: width and height must be at least 1")
        sizes.append({"width": width, "height": height})
    if not sizes:
        raise UsageError("--sizes: give one or more sizes, e.g. 300x300,200x200")
    return sizes


def build_input(
    workflow: str | None,
    *,
    file_location: str,
    formats: Sequence[str] | None,
    sizes: Sequence[Mapping[str, int]] | None,
    keep_aspect: bool,
    config: DeploymentConfig,
) -> dict[str, Any]:
    """The seeds' input shape of ``workflow`` from the flags (unset formats/sizes: the default recipe)."""
    default = config.defaultRecipe
    chosen_formats = list(formats) if formats else list(default.outputFormats)
    chosen_sizes = [dict(s) for s in sizes] if sizes else [s.model_dump() for s in default.outputSizes]
    if workflow == FIXED_RENDITIONS:
        if formats or sizes:
            raise UsageError(
                f"{workflow}: its formats and sizes are fixed by the workflow; drop --formats/--sizes"
            )
        return {"fileLocation": file_location, "maintainAspectRatio": keep_aspect}
    if workflow in (SINGLE_RENDITION_RECIPE, FLAT_RECIPE):
        if len(chosen_formats) != 1 or len(chosen_sizes) != 1:
            raise UsageError(
                f"{workflow} makes one rendition: give exactly one --formats value and one --sizes value "
                "(the dynamic-fork workflows make several)"
            )
        fmt, size = chosen_formats[0], chosen_sizes[0]
        if workflow == FLAT_RECIPE:
            return {
                "fileLocation": file_location,
                "outputFormat": fmt,
                "outputWidth": size["width"],
                "outputHeight": size["height"],
                "maintainAspectRatio": keep_aspect,
            }
        return {
            "fileLocation": file_location,
            "recipeParameters": {"outputFormat": fmt, "outputSize": size, "maintainAspectRatio": keep_aspect},
        }
    return {
        "fileLocation": file_location,
        "outputFormats": chosen_formats,
        "outputSizes": chosen_sizes,
        "maintainAspectRatio": keep_aspect,
    }
