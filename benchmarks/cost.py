"""AWS cost per million source images, side by side for the deployable configurations, from measured
imaging time, the deployed memory sizes (cdk.json `imgpipe:memorySize`) and what real local
executions did: state transitions and Lambda invocations per task (the runtime's `stateAttempts`,
mapped to tasks through the translated ASL). S3 requests per invocation are the workers' tested
behaviour (docs/workers.md "Publication"): resize = 1 GET + 1 PUT, upload of an in-place rendition =
1 HEAD, planner = none.

Prices: us-east-1, on-demand, first pricing tier, free tiers ignored; checked 2025.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
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
# Assumed S3 round trip inside a region for one request from Lambda (GET of a ~1.6 MB source, PUT of
# a rendition, HEAD); moto's in-process S3 says nothing about real latency, so this is a stated model.
S3_REQUEST_MS_ASSUMED = 25.0
HANDLER_OVERHEAD_MS_ASSUMED = 5.0  # validation, logging, metrics of one invocation

# S3 requests one invocation of each task makes (docs/workers.md, tested in tests/lambdas).
S3_REQUESTS_PER_INVOCATION: dict[str, Counter[str]] = {
    "image_convert_resize": Counter(get=1, put=1),
    "upload_toS3": Counter(head=1),
    "image_multiple_convert_resize": Counter(),
}


@dataclass
class Execution:
    """What one real local execution of a workflow did."""

    workflow: str
    transitions: int
    invocations: dict[str, int]  # Lambda task name -> invocations
    duration_ms: float
    express_compatible: bool
    child_executions: int = 0
    source: str = "real local execution"
    unmapped_states: list[str] = field(default_factory=list)


def memory_sizes() -> dict[str, int]:
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return {key: int(value) for key, value in context["imgpipe:memorySize"].items()}


def _task_states(states: dict[str, Any], found: dict[str, str], children: set[str]) -> None:
    """State name -> Lambda task name for every Lambda Task state, nested Maps/Parallels included."""
    for name, state in states.items():
        if state["Type"] == "Task":
            function = json.dumps(state.get("Parameters", {}).get("FunctionName", ""))
            if "${LambdaArn_" in function:
                found[name] = function.split("${LambdaArn_", 1)[1].split("}", 1)[0]
            elif "states:startExecution" in state.get("Resource", ""):
                children.add(name)
        elif state["Type"] == "Map":
            _task_states((state.get("ItemProcessor") or state["Iterator"])["States"], found, children)
        elif state["Type"] == "Parallel":
            for branch in state["Branches"]:
                _task_states(branch["States"], found, children)


def execution_from_run(workflow: str, run: dict[str, Any]) -> Execution:
    """Map a `imgpipe run --json` result's stateAttempts onto Lambda tasks via the translated ASL of
    the workflow and every project workflow it may start."""
    from statemachines.project import translate_project

    translated = translate_project()
    states: dict[str, str] = {}
    child_states: set[str] = set()
    for item in translated.values():
        _task_states(item.asl["States"], states, child_states)
    invocations: Counter[str] = Counter()
    children = 0
    unmapped = []
    for state, attempts in (run.get("stateAttempts") or {}).items():
        if state in states:
            invocations[states[state]] += int(attempts)
        elif state in child_states:
            children += int(attempts)
        else:
            unmapped.append(state)
    return Execution(
        workflow=workflow,
        transitions=int(run["transitions"]),
        invocations=dict(invocations),
        duration_ms=float(run["durationMs"]),
        express_compatible=bool(translated[workflow].express_compatible),
        child_executions=children,
        unmapped_states=unmapped,
    )


def lambda_ms(task: str, imaging_ms_per_rendition: float, memory_mb: int) -> float:
    """Modelled billed duration of one invocation on Lambda arm64 at `memory_mb`."""
    requests = sum(S3_REQUESTS_PER_INVOCATION.get(task, Counter()).values())
    cpu_factor = max(1.0, LAMBDA_FULL_VCPU_MB / memory_mb)
    imaging = imaging_ms_per_rendition * cpu_factor if task == "image_convert_resize" else 0.0
    return imaging + HANDLER_OVERHEAD_MS_ASSUMED * cpu_factor + requests * S3_REQUEST_MS_ASSUMED


def per_million(
    execution: Execution, *, flavour: str, imaging_ms_per_rendition: float, renditions: int
) -> dict[str, Any]:
    """USD per million source images of one workflow deployed as `flavour` (STANDARD or EXPRESS)."""
    memory = memory_sizes()
    compute = requests = 0.0
    s3: Counter[str] = Counter()
    durations = {}
    for task, count in execution.invocations.items():
        ms = lambda_ms(task, imaging_ms_per_rendition, memory[task])
        durations[task] = round(ms, 1)
        compute += count * math.ceil(ms) / 1000 * memory[task] / 1024 * LAMBDA_ARM_USD_PER_GB_SECOND
        requests += count * LAMBDA_USD_PER_REQUEST
        for kind, number in S3_REQUESTS_PER_INVOCATION.get(task, Counter()).items():
            s3[kind] += count * number
    s3_usd = s3["get"] * S3_GET_USD + s3["put"] * S3_PUT_USD + s3["head"] * S3_HEAD_USD
    if flavour == "STANDARD":
        orchestration = execution.transitions * SFN_STANDARD_USD_PER_TRANSITION
        duration_note = "n/a (Standard bills transitions)"
    else:
        # Express bills requests and duration. The local runtime runs the Map on 2 cores, so its
        # duration is an upper bound of AWS's parallel Map (which lasts about the slowest item).
        billed = math.ceil(execution.duration_ms / SFN_EXPRESS_BILLING_INCREMENT_MS)
        billed_ms = billed * SFN_EXPRESS_BILLING_INCREMENT_MS
        orchestration = SFN_EXPRESS_USD_PER_REQUEST + (
            billed_ms / 1000 * SFN_EXPRESS_MEMORY_GB * SFN_EXPRESS_USD_PER_GB_SECOND
        )
        duration_note = f"{billed_ms} ms billed (local duration, an upper bound)"
    million = 1_000_000
    usd = {
        "lambda_compute": round(compute * million, 2),
        "lambda_requests": round(requests * million, 2),
        "s3_requests": round(s3_usd * million, 2),
        "step_functions": round(orchestration * million, 2),
    }
    usd["total"] = round(sum(usd.values()), 2)
    deployable = flavour == "STANDARD" or execution.express_compatible
    return {
        "configuration": f"{flavour.lower()} / {execution.workflow}",
        "workflow": execution.workflow,
        "flavour": flavour,
        "deployable": deployable,
        "renditions": renditions,
        "transitions": execution.transitions,
        "child_executions": execution.child_executions,
        "lambda_invocations": execution.invocations,
        "lambda_ms_modelled": durations,
        "s3_requests": dict(s3),
        "express_duration": duration_note,
        "counts_source": execution.source,
        "unmapped_states": execution.unmapped_states,
        "usd_per_million": usd,
    }


def configurations(
    executions: list[Execution], *, imaging_ms_per_rendition: float, renditions: int
) -> list[dict[str, Any]]:
    """Every workflow as Standard, and as Express too (marked not deployable when the translator
    says the workflow cannot run as Express)."""
    rows = []
    for execution in executions:
        for flavour in ("STANDARD", "EXPRESS"):
            rows.append(
                per_million(
                    execution,
                    flavour=flavour,
                    imaging_ms_per_rendition=imaging_ms_per_rendition,
                    renditions=renditions,
                )
            )
    return rows


def model_inputs() -> dict[str, Any]:
    """The stated assumptions, for the report."""
    return {
        "memory_mb": memory_sizes(),
        "cpu_full_vcpu_mb": LAMBDA_FULL_VCPU_MB,
        "s3_request_ms_assumed": S3_REQUEST_MS_ASSUMED,
        "handler_overhead_ms_assumed": HANDLER_OVERHEAD_MS_ASSUMED,
        "s3_requests_per_invocation": {k: dict(v) for k, v in S3_REQUESTS_PER_INVOCATION.items()},
    }


def compute_breakdown(
    row: dict[str, Any], *, imaging_ms_per_rendition: float, split_ms: dict[str, float]
) -> dict[str, float]:
    """Split a configuration's Lambda compute dollars into what the time is spent on.

    `split_ms` is the profile of job A (decode/resize/encode ms over the whole job): the imaging
    share of each resize invocation is divided in those proportions; the rest of the modelled
    duration is S3 waiting and handler overhead. Other tasks (planner, upload) are reported whole.
    """
    memory = memory_sizes()
    usd: Counter[str] = Counter()
    total_split = sum(split_ms.values()) or 1.0
    for task, count in row["lambda_invocations"].items():
        mb = memory[task]
        gb_s_per_ms = mb / 1024 / 1000 * LAMBDA_ARM_USD_PER_GB_SECOND * count * 1_000_000
        cpu_factor = max(1.0, LAMBDA_FULL_VCPU_MB / mb)
        requests = sum(S3_REQUESTS_PER_INVOCATION.get(task, Counter()).values())
        if task == "image_convert_resize":
            imaging = imaging_ms_per_rendition * cpu_factor
            for phase, ms in split_ms.items():
                usd[phase.removesuffix("_ms")] += imaging * ms / total_split * gb_s_per_ms
            usd["s3 wait"] += requests * S3_REQUEST_MS_ASSUMED * gb_s_per_ms
            usd["handler overhead"] += HANDLER_OVERHEAD_MS_ASSUMED * cpu_factor * gb_s_per_ms
        else:
            usd[task] += lambda_ms(task, imaging_ms_per_rendition, mb) * gb_s_per_ms
    return {key: round(value, 2) for key, value in usd.items()}


def imaging_budget_ms(
    row: dict[str, Any], *, target_usd: float, memory_mb: int | None = None
) -> float | None:
    """The largest imaging time per rendition (ms on one full core) at which `row` would cost
    `target_usd` per million, everything else unchanged; `memory_mb` re-sizes the resize function.

    Below 1,769 MB the CPU-bound share costs the same GB-seconds at any memory size, so a smaller
    function only saves its S3 waiting: this tells how much faster the imaging would have to be.
    None when the rest of the bill alone exceeds the target.
    """
    memory = memory_sizes() | ({"image_convert_resize": memory_mb} if memory_mb else {})
    usd = row["usd_per_million"]
    fixed = usd["lambda_requests"] + usd["s3_requests"] + usd["step_functions"]
    per_gb_ms = LAMBDA_ARM_USD_PER_GB_SECOND / 1000 * 1_000_000
    other = 0.0
    resize_count = 0
    mb = memory["image_convert_resize"]
    for task, count in row["lambda_invocations"].items():
        if task == "image_convert_resize":
            resize_count = count
            continue
        other += count * lambda_ms(task, 0.0, memory[task]) * memory[task] / 1024 * per_gb_ms
    if not resize_count:
        return None
    waiting = lambda_ms("image_convert_resize", 0.0, mb)  # S3 and handler time at this size
    left = target_usd - fixed - other - resize_count * waiting * mb / 1024 * per_gb_ms
    if left <= 0:
        return None
    cpu_factor = max(1.0, LAMBDA_FULL_VCPU_MB / mb)
    return round(left / (resize_count * cpu_factor * mb / 1024 * per_gb_ms), 1)
