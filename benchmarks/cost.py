"""AWS cost per million source images, from measured durations, the deployed memory sizes
(cdk.json `imgpipe:memorySize`) and state-transition counts (a real local execution when available,
else counted from the translated ASL, else a stated model), for Step Functions Standard and Express.

Prices: us-east-1, on-demand, first pricing tier, free tiers ignored; checked 2025.
"""

from __future__ import annotations

import json
import math
from typing import Any

from benchmarks.settings import REPO_ROOT

# https://aws.amazon.com/lambda/pricing/ (Arm: $0.0000133334 per GB-second, $0.20 per 1M requests)
LAMBDA_ARM_USD_PER_GB_SECOND = 0.0000133334
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
# https://aws.amazon.com/step-functions/pricing/ (Standard: $0.025 per 1,000 state transitions)
SFN_STANDARD_USD_PER_TRANSITION = 0.025 / 1000
# Express: $1.00 per 1M requests; $0.00001667 per GB-second (first 1,000 GB-hours), billed in
# 64 MB memory chunks and 100 ms increments.
SFN_EXPRESS_USD_PER_REQUEST = 1.00 / 1_000_000
SFN_EXPRESS_USD_PER_GB_SECOND = 0.00001667
SFN_EXPRESS_MEMORY_GB = 64 / 1024
SFN_EXPRESS_BILLING_INCREMENT_MS = 100
# https://aws.amazon.com/s3/pricing/ (S3 Standard: PUT/COPY/POST/LIST $0.005 per 1,000;
# GET/SELECT and all other requests, HEAD included, $0.0004 per 1,000)
S3_PUT_USD = 0.005 / 1000
S3_GET_USD = 0.0004 / 1000
S3_HEAD_USD = 0.0004 / 1000

# Lambda gives one full vCPU at 1,769 MB and CPU in proportion below that
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html): single-threaded work
# measured on one core here takes about 1769/memory times as long at a smaller memory size.
LAMBDA_FULL_VCPU_MB = 1769
# Assumed S3 round trip inside a region for one request from Lambda (GET of a ~1.6 MB source or PUT
# of a rendition); moto's in-process S3 says nothing about real latency, so this is a stated model.
S3_REQUEST_MS_ASSUMED = 25.0
PLANNER_MS_ASSUMED = 5.0  # validate input + HEAD the source; tiny next to the imaging


def memory_sizes() -> dict[str, int]:
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return {key: int(value) for key, value in context["imgpipe:memorySize"].items()}


def count_transitions(asl: dict[str, Any], items: int) -> int:
    """State transitions of one execution: every state entered counts once; a Map counts its
    iterations' states `items` times; Choice follows its Default (the happy path)."""
    states: dict[str, Any] = asl["States"]
    name: str | None = asl["StartAt"]
    total = 0
    while name is not None:
        state = states[name]
        total += 1
        kind = state["Type"]
        if kind == "Map":
            inner = state.get("ItemProcessor") or state["Iterator"]
            total += items * count_transitions(inner, items)
        elif kind == "Parallel":
            total += sum(count_transitions(branch, items) for branch in state["Branches"])
        if kind in ("Succeed", "Fail") or state.get("End"):
            break
        name = state.get("Default") if kind == "Choice" else state.get("Next")
    return total


def transitions_for(workflow: str, renditions: int, measured: int | None) -> tuple[int, str]:
    if measured:
        return measured, "real local execution"
    try:
        from statemachines.project import translate_project

        asl = translate_project()[workflow].asl
        return count_transitions(asl, renditions), "counted from the translated ASL (happy path)"
    except Exception as error:  # the translator may not be there yet: use the stated model
        model = 3 + renditions  # planner task, Map, per-item resize task, final output state
        return model, f"MODEL (no execution, no ASL: {type(error).__name__}): 3 + 1 per rendition"


def per_million(
    *,
    renditions: int,
    imaging_ms_per_rendition: float,
    transitions: int,
    transitions_source: str,
    workflow_duration_ms: float | None,
) -> dict[str, Any]:
    memory = memory_sizes()
    resize_mb = memory["image_convert_resize"]
    planner_mb = memory["image_multiple_convert_resize"]
    cpu_factor = max(1.0, LAMBDA_FULL_VCPU_MB / resize_mb)
    resize_ms = imaging_ms_per_rendition * cpu_factor + 2 * S3_REQUEST_MS_ASSUMED  # GET source, PUT output
    planner_ms = PLANNER_MS_ASSUMED + S3_REQUEST_MS_ASSUMED  # HEAD the source
    lambda_compute = (
        renditions * math.ceil(resize_ms) / 1000 * resize_mb / 1024
        + math.ceil(planner_ms) / 1000 * planner_mb / 1024
    ) * LAMBDA_ARM_USD_PER_GB_SECOND
    lambda_requests = (renditions + 1) * LAMBDA_USD_PER_REQUEST
    s3 = renditions * (S3_GET_USD + S3_PUT_USD) + S3_HEAD_USD
    standard = transitions * SFN_STANDARD_USD_PER_TRANSITION
    # Express bills the whole execution; on AWS the Map runs renditions in parallel, so the
    # execution lasts about planner + the slowest rendition, unless a measured duration is given.
    express_ms = workflow_duration_ms or (planner_ms + resize_ms * 1.5)
    billed_ms = math.ceil(express_ms / SFN_EXPRESS_BILLING_INCREMENT_MS) * SFN_EXPRESS_BILLING_INCREMENT_MS
    express = (
        SFN_EXPRESS_USD_PER_REQUEST + billed_ms / 1000 * SFN_EXPRESS_MEMORY_GB * SFN_EXPRESS_USD_PER_GB_SECOND
    )
    common = lambda_compute + lambda_requests + s3
    million = 1_000_000
    return {
        "renditions": renditions,
        "memory_mb": memory,
        "cpu_scale_factor": round(cpu_factor, 3),
        "resize_lambda_ms_modelled": round(resize_ms, 1),
        "transitions": transitions,
        "transitions_source": transitions_source,
        "express_duration_ms": round(express_ms, 1),
        "express_duration_source": "local execution"
        if workflow_duration_ms
        else "model: planner + 1.5x slowest",
        "usd_per_million": {
            "lambda_compute": round(lambda_compute * million, 2),
            "lambda_requests": round(lambda_requests * million, 2),
            "s3_requests": round(s3 * million, 2),
            "step_functions_standard": round(standard * million, 2),
            "step_functions_express": round(express * million, 2),
            "total_standard": round((common + standard) * million, 2),
            "total_express": round((common + express) * million, 2),
        },
    }
