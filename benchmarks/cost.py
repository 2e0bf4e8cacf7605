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
import statistics
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
S3_LIST_USD = 0.005 / 1000
# https://aws.amazon.com/eventbridge/pricing/ : events published by AWS services (S3's "Object
# Created" on the default bus) are free; rule matching and the Step Functions target add nothing.
EVENTBRIDGE_AWS_SERVICE_EVENT_USD = 0.0
# https://aws.amazon.com/cloudwatch/pricing/ (Logs, Standard class, us-east-1: $0.50 per GB
# ingested; the same first-tier rate for Lambda logs and for Step Functions' vended logs). GB as
# 10^9 bytes, the larger count.
CLOUDWATCH_LOGS_USD_PER_GB = 0.50
LOG_GB_BYTES = 1_000_000_000
# Lambda bills duration rounded up to 1 ms (https://aws.amazon.com/lambda/pricing/).
LAMBDA_BILLING_INCREMENT_MS = 1

# Lambda gives one full vCPU at 1,769 MB and CPU in proportion below that
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html): single-threaded work
# measured on one core here takes about 1769/memory times as long at a smaller memory size.
LAMBDA_FULL_VCPU_MB = 1769
# Assumed S3 round trip inside a region for one request from Lambda (GET of a ~1.6 MB source, PUT of
# a rendition, HEAD); moto's in-process S3 says nothing about real latency, so this is a stated model.
S3_REQUEST_MS_ASSUMED = 25.0
HANDLER_OVERHEAD_MS_ASSUMED = 5.0  # validation, logging, metrics of one invocation
# What Lambda itself writes per invocation in the text log format: START, END and REPORT lines
# with the X-Ray trace line (about 72 + 52 + 235 bytes); moto runs no Lambda service to measure them.
LAMBDA_PLATFORM_LOG_BYTES_ASSUMED = 360
LAMBDA_PLATFORM_LOG_EVENTS = 3
# CloudWatch Logs counts 26 bytes of metadata per log event
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html, PutLogEvents
# batch size); counted on every event here, the larger bill.
LOG_EVENT_OVERHEAD_BYTES = 26
# The default deployment's targets (issue 12), all-in per million source images.
DEFAULT_DEPLOYMENT_TARGETS_USD = {4: 30.0, 9: 60.0}

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


# --- the default deployment (cdk.json as shipped), from real local executions -----------------
def _s3_round_trips(requests: dict[str, int], concurrency: int) -> int:
    """S3 waits on the critical path of one render-all invocation: the GET, the HEADs in rounds of
    `concurrency`, and the last PUT (earlier PUTs overlap the rendering of the next rendition)."""
    heads = requests.get("HeadObject", 0)
    return (
        requests.get("GetObject", 0)
        + math.ceil(heads / concurrency)
        + (1 if requests.get("PutObject") else 0)
    )


def _invocation_ms(invocation: dict[str, Any], memory_mb: int, concurrency: int) -> dict[str, float]:
    """Modelled Lambda duration of one measured invocation: the handler thread's CPU outside S3 calls
    (measured on one core here), scaled to `memory_mb` as the rest of this model does, plus
    S3_REQUEST_MS_ASSUMED per S3 wait on the critical path."""
    compute = (invocation["cpu_ms"] - invocation["s3_cpu_ms"]) * max(1.0, LAMBDA_FULL_VCPU_MB / memory_mb)
    s3_wait = S3_REQUEST_MS_ASSUMED * _s3_round_trips(invocation["s3_requests"], concurrency)
    billed = math.ceil((compute + s3_wait) / LAMBDA_BILLING_INCREMENT_MS) * LAMBDA_BILLING_INCREMENT_MS
    return {"compute_ms": compute, "s3_wait_ms": s3_wait, "billed_ms": float(billed)}


def _execution_usd(run: dict[str, Any], memory: dict[str, int], concurrency: int) -> dict[str, Any]:
    """USD of one measured execution, by line, with the counts it is made of."""
    compute_usd = 0.0
    billed_lambda_ms = 0.0
    handler_wall_ms = 0.0
    s3: Counter[str] = Counter()
    for invocation in run["invocations"]:
        mb = memory[invocation["task"]]
        ms = _invocation_ms(invocation, mb, concurrency)
        compute_usd += ms["billed_ms"] / 1000 * mb / 1024 * LAMBDA_ARM_USD_PER_GB_SECOND
        billed_lambda_ms += ms["billed_ms"]
        handler_wall_ms += invocation["wall_ms"]
        s3.update(invocation["s3_requests"])
    invocations = len(run["invocations"])
    s3_usd = (
        s3["GetObject"] * S3_GET_USD
        + s3["HeadObject"] * S3_HEAD_USD
        + s3["PutObject"] * S3_PUT_USD
        + s3["ListObjectsV2"] * S3_LIST_USD
    )
    # Express: the orchestration time measured locally around the handler, plus the modelled
    # Lambda duration in place of the local one; rounded up to 100 ms, one 64 MB memory chunk.
    express_ms = max(0.0, run["duration_ms"] - handler_wall_ms) + billed_lambda_ms
    billed_express_ms = (
        math.ceil(express_ms / SFN_EXPRESS_BILLING_INCREMENT_MS) * SFN_EXPRESS_BILLING_INCREMENT_MS
    )
    express_usd = run["express_requests"] * (
        SFN_EXPRESS_USD_PER_REQUEST
        + billed_express_ms / 1000 * SFN_EXPRESS_MEMORY_GB * SFN_EXPRESS_USD_PER_GB_SECOND
    )
    worker_lines = run.get("worker_log_lines", 0)
    log_bytes = (
        run["state_machine_log_bytes"]
        + run["worker_log_bytes"]
        + invocations * LAMBDA_PLATFORM_LOG_BYTES_ASSUMED
        + (worker_lines + invocations * LAMBDA_PLATFORM_LOG_EVENTS) * LOG_EVENT_OVERHEAD_BYTES
    )
    return {
        "usd": {
            "lambda_compute": compute_usd,
            "lambda_requests": invocations * LAMBDA_USD_PER_REQUEST,
            "s3_requests": s3_usd,
            "step_functions": express_usd,
            "eventbridge": run["events"] * EVENTBRIDGE_AWS_SERVICE_EVENT_USD,
            "cloudwatch_logs": log_bytes / LOG_GB_BYTES * CLOUDWATCH_LOGS_USD_PER_GB,
        },
        "lambda_billed_ms": billed_lambda_ms,
        "express_billed_ms": billed_express_ms,
        "log_bytes": log_bytes,
        "s3_requests": dict(s3),
    }


def default_deployment(measured: dict[str, Any]) -> dict[str, Any]:
    """USD per million source images of the measured default-deployment executions (a
    `benchmarks.deployment_run` result): the median over the warm executions (the first one imported
    the handler, whose INIT is not in this model), every line from what the execution did."""
    from lambdas.services.render_all import MAX_CONCURRENT_REQUESTS

    runs = measured["runs"]
    warm = runs[1:] or runs
    priced = [_execution_usd(run, measured["memory_mb"], MAX_CONCURRENT_REQUESTS) for run in warm]
    million = 1_000_000
    lines = {
        line: round(statistics.median(p["usd"][line] for p in priced) * million, 2)
        for line in priced[0]["usd"]
    }
    lines["total"] = round(sum(lines.values()), 2)
    last = warm[-1]
    invocation_ms = [
        _invocation_ms(i, measured["memory_mb"][i["task"]], MAX_CONCURRENT_REQUESTS)
        for run in warm
        for i in run["invocations"]
    ]
    return {
        "workflow": measured["workflow"],
        "state_machine_type": measured["state_machine_type"],
        "log_level": measured["log_level"],
        "log_execution_data": measured["log_execution_data"],
        "recipe": measured["recipe"],
        "source": measured["source"],
        "renditions": last["renditions"],
        "executions": len(runs),
        "priced_executions": len(warm),
        "per_image": {
            "eventbridge_events": last["events"],
            "express_requests": last["express_requests"],
            "lambda_invocations": {
                task: sum(1 for i in last["invocations"] if i["task"] == task)
                for task in {i["task"] for i in last["invocations"]}
            },
            "s3_requests": priced[-1]["s3_requests"],
            "transitions": last["transitions"],
            "state_machine_log_bytes": last["state_machine_log_bytes"],
            "state_machine_log_bytes_at_all_with_data": last["state_machine_log_bytes_at_all_with_data"],
            "worker_log_bytes": last["worker_log_bytes"],
        },
        "measured_median": {
            "handler_cpu_ms": round(
                statistics.median(i["cpu_ms"] for r in warm for i in r["invocations"]), 1
            ),
            "handler_wall_ms": round(
                statistics.median(i["wall_ms"] for r in warm for i in r["invocations"]), 1
            ),
            "execution_ms": round(statistics.median(r["duration_ms"] for r in warm), 1),
        },
        "modelled_median": {
            "lambda_compute_ms": round(statistics.median(m["compute_ms"] for m in invocation_ms), 1),
            "lambda_s3_wait_ms": round(statistics.median(m["s3_wait_ms"] for m in invocation_ms), 1),
            "lambda_billed_ms": statistics.median(p["lambda_billed_ms"] for p in priced),
            "express_billed_ms": statistics.median(p["express_billed_ms"] for p in priced),
            "log_bytes": statistics.median(p["log_bytes"] for p in priced),
        },
        "memory_mb": measured["memory_mb"],
        "usd_per_million": lines,
    }


def default_deployment_recipes() -> dict[str, dict[str, Any] | None]:
    """The two priced configurations: cdk.json's own default recipe (None: as shipped), and the
    seed 003 grid (job A's png, jpg, webp x 300, 200, 1200) as `imgpipe:defaultRecipe` instead."""
    from benchmarks.jobs import JOBS

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    shipped = context["imgpipe:defaultRecipe"]
    grid = JOBS["A"].renditions
    nine = {
        **shipped,
        "outputFormats": list(dict.fromkeys(r.fmt for r in grid)),
        "outputSizes": [
            {"width": w, "height": h} for w, h in dict.fromkeys((r.width, r.height) for r in grid)
        ],
    }
    count = len(shipped["outputFormats"]) * len(shipped["outputSizes"])
    return {f"{count} renditions": None, f"{len(grid)} renditions": nine}


def measure_default_deployment(source_file: Any, executions: int) -> dict[str, Any]:
    """`cost.default_deployment` ({"<n> renditions": usd per million}) and its details, from
    `executions` real local uploads per configuration; a configuration that cannot run is reported
    as skipped with the reason, never given a number."""
    from benchmarks import deployment_run

    totals: dict[str, float] = {}
    details: dict[str, Any] = {}
    skipped: list[str] = []
    for label, recipe in default_deployment_recipes().items():
        try:
            measured = deployment_run.measure(source_file, executions, recipe)
        except (RuntimeError, OSError, ValueError) as error:
            skipped.append(f"default deployment, {label}: {error}")
            continue
        details[label] = default_deployment(measured)
        totals[label] = details[label]["usd_per_million"]["total"]
    return {
        "default_deployment": totals,
        "default_deployment_detail": details,
        "default_deployment_model": default_deployment_model(),
        "default_deployment_skipped": skipped,
    }


def default_deployment_targets(cost_results: dict[str, Any]) -> list[dict[str, Any]]:
    """One target row per priced configuration (issue 12: $30 with 4 renditions, $60 with 9)."""
    rows = []
    for label, total in cost_results.get("default_deployment", {}).items():
        target = DEFAULT_DEPLOYMENT_TARGETS_USD.get(int(label.split()[0]))
        if target is None:
            continue
        rows.append(
            {
                "target": f"default deployment (cdk.json as shipped) all-in <= ${target:.0f} per million "
                f"images, {label}",
                "measured": f"${total:,.2f}",
                "met": total <= target,
            }
        )
    return rows


def default_deployment_model() -> dict[str, Any]:
    """The stated assumptions of the default-deployment pricing, for the report."""
    from lambdas.services.render_all import MAX_CONCURRENT_REQUESTS

    return {
        "s3_request_ms_assumed": S3_REQUEST_MS_ASSUMED,
        "s3_concurrency": MAX_CONCURRENT_REQUESTS,
        "cpu_full_vcpu_mb": LAMBDA_FULL_VCPU_MB,
        "lambda_platform_log_bytes_assumed": LAMBDA_PLATFORM_LOG_BYTES_ASSUMED,
        "log_event_overhead_bytes": LOG_EVENT_OVERHEAD_BYTES,
        "prices_usd": {
            "lambda_arm_gb_second": LAMBDA_ARM_USD_PER_GB_SECOND,
            "lambda_request": LAMBDA_USD_PER_REQUEST,
            "express_request": SFN_EXPRESS_USD_PER_REQUEST,
            "express_gb_second": SFN_EXPRESS_USD_PER_GB_SECOND,
            "s3_put": S3_PUT_USD,
            "s3_get": S3_GET_USD,
            "s3_head": S3_HEAD_USD,
            "s3_list": S3_LIST_USD,
            "eventbridge_aws_service_event": EVENTBRIDGE_AWS_SERVICE_EVENT_USD,
            "cloudwatch_logs_gb": CLOUDWATCH_LOGS_USD_PER_GB,
        },
    }
