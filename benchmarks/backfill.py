"""`imgpipe backfill`: a measured local run, the AWS cost per million sources, and the 10-million plan.

    python -m benchmarks.backfill --count 2000            # local run + model, one JSON object

The local run is the real backfill state machine and render-all worker in the local runtime
(in-process moto): wall time, renditions per second, the process's peak RSS, and each worker
invocation's CPU time (what the Lambda cost model scales to the function's CPU share). The model
prices what one source costs on AWS with the shipped cdk.json: Lambda, the Distributed Map's Standard
parent (one state transition per child execution, https://aws.amazon.com/step-functions/pricing/),
its Express children, S3 requests (the worker's GET + a HEAD and a PUT per rendition; ListObjectsV2
for the ItemReader) and CloudWatch Logs. Prices are `benchmarks/cost.py`'s constants where it has them.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import resource
import statistics
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from benchmarks.cost import (
    HANDLER_OVERHEAD_MS_ASSUMED,
    LAMBDA_ARM_USD_PER_GB_SECOND,
    LAMBDA_FULL_VCPU_MB,
    LAMBDA_USD_PER_REQUEST,
    S3_GET_USD,
    S3_HEAD_USD,
    S3_PUT_USD,
    S3_REQUEST_MS_ASSUMED,
    SFN_EXPRESS_BILLING_INCREMENT_MS,
    SFN_EXPRESS_MEMORY_GB,
    SFN_EXPRESS_USD_PER_GB_SECOND,
    SFN_EXPRESS_USD_PER_REQUEST,
    SFN_STANDARD_USD_PER_TRANSITION,
)
from benchmarks.worker_probe import probed_tasks, probes
from imgpipe.config import RENDER_ALL_TASK, DeploymentConfig

# https://aws.amazon.com/s3/pricing/: LIST is priced like PUT; one ListObjectsV2 page is 1,000 keys
# (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html, MaxKeys).
S3_LIST_USD = S3_PUT_USD
LIST_PAGE_KEYS = 1000
# https://aws.amazon.com/cloudwatch/pricing/ (Logs: $0.50 per GB ingested, standard class).
CLOUDWATCH_LOGS_USD_PER_GB = 0.50
# One INFO line and one EMF metrics line per invocation, as the worker logs them (measured locally).
LAMBDA_LOG_BYTES_PER_INVOCATION_ASSUMED = 1200
# Lambda's START/END/REPORT lines per invocation.
LAMBDA_PLATFORM_LOG_BYTES = 350
# Distributed Map: parent transitions besides one per child (start, Map state, Map Run, end).
PARENT_FIXED_TRANSITIONS = 4
# A child Express execution: its states run in well under the worker's time besides the invocation.
CHILD_OVERHEAD_MS_ASSUMED = 50.0
# Render-all's S3 on the critical path: the GET, one round of HEADs in its pool, the last PUT.
CRITICAL_PATH_S3_REQUESTS = 3
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html: per partitioned prefix.
S3_PUTS_PER_SECOND_PER_PREFIX = 3500
S3_GETS_PER_SECOND_PER_PREFIX = 5500
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 1,000 concurrent executions
# per Region by default; new accounts start with less, raised automatically with use.
LAMBDA_DEFAULT_CONCURRENCY = 1000


@dataclass(frozen=True)
class LocalRun:
    sources: int
    failed: int
    failed_errors: dict[str, int]
    renditions: int
    seconds: float
    renditions_per_second: float
    peak_rss_mb: float
    invocation_cpu_ms_median: float
    invocation_cpu_ms_p90: float


def _image(index: int, size: tuple[int, int]) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((index % 256, 80, 160), (0, 0, size[0] // 3, size[1] // 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def run_local(count: int, size: tuple[int, int], config: DeploymentConfig, logs: Path) -> LocalRun:
    """Upload `count` generated JPEGs, run the backfill state machine on them, measure it
    (the workers' logs go to `logs`)."""
    from imgpipe.commands.backfill import read_report
    from imgpipe.local.engine import LocalAws, default_handler
    from imgpipe.local.logs import captured

    # CPU time of each invocation's worker process (decode and render run there): wall time would
    # count the waits of hundreds of concurrent local invocations for two cores.
    probed = probed_tasks([RENDER_ALL_TASK], default_handler)
    with captured(logs), LocalAws(config, time_scale=0.0, **probed) as aws:
        bucket = aws.deployment.input_bucket
        for index in range(count):
            aws.s3.put_object(Bucket=bucket, Key=f"bench/{index:06d}.jpg", Body=_image(index, size))
        recipe = config.defaultRecipe.model_dump(mode="json")
        started = time.perf_counter()
        arn = aws.start_execution("backfill", {"bucket": bucket, "prefix": "bench/", "recipe": recipe})
        described = aws.wait(arn, poll_seconds=0.5)
        seconds = time.perf_counter() - started
        if described["status"] != "SUCCEEDED":
            raise SystemExit(
                f"backfill {described['status']}: {described.get('error')} {described.get('cause')}"
            )
        details = json.loads(described["output"])["ResultWriterDetails"]
        summary = read_report(aws.s3, details["Bucket"], details["Key"], source_bucket=bucket)
        durations = [probe["cpu_ms"] for probe in probes(i.logs for i in aws.router.invocations)]
    ordered = sorted(durations)
    return LocalRun(
        sources=summary.items,
        failed=summary.failed,
        failed_errors=dict(Counter(failure.error for failure in summary.failures)),
        renditions=summary.renditions,
        seconds=round(seconds, 2),
        renditions_per_second=round(summary.renditions / seconds, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        invocation_cpu_ms_median=round(statistics.median(ordered), 1),
        invocation_cpu_ms_p90=round(ordered[int(0.9 * (len(ordered) - 1))], 1),
    )


def lambda_ms_per_source(local_invocation_ms: float, memory_mb: int) -> float:
    """The worker's duration on Lambda: its local CPU time scaled to the memory's CPU share, plus S3."""
    cpu_share = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    return local_invocation_ms / cpu_share + CRITICAL_PATH_S3_REQUESTS * S3_REQUEST_MS_ASSUMED


def cost_per_million(
    config: DeploymentConfig, *, lambda_ms: float, renditions: int, rerun: bool = False
) -> dict[str, float]:
    """USD per million sources, by service; `rerun`: every rendition exists (GET + HEADs, no PUT)."""
    sources = 1_000_000
    batch = config.backfillItemsPerBatch
    children = math.ceil(sources / batch)
    memory_mb = config.memorySize.get(RENDER_ALL_TASK, 1024)
    if rerun:  # nothing decoded: the GET and one round of HEADs
        lambda_ms = 2 * S3_REQUEST_MS_ASSUMED
    lambda_seconds = (lambda_ms + HANDLER_OVERHEAD_MS_ASSUMED) / 1000
    child_ms = lambda_ms + HANDLER_OVERHEAD_MS_ASSUMED + CHILD_OVERHEAD_MS_ASSUMED
    billed_child_ms = (
        math.ceil(child_ms / SFN_EXPRESS_BILLING_INCREMENT_MS) * SFN_EXPRESS_BILLING_INCREMENT_MS
    )
    puts = 0 if rerun else renditions
    breakdown = {
        "lambda": sources
        * (LAMBDA_USD_PER_REQUEST + memory_mb / 1024 * lambda_seconds * LAMBDA_ARM_USD_PER_GB_SECOND),
        "step_functions_parent": (children + PARENT_FIXED_TRANSITIONS) * SFN_STANDARD_USD_PER_TRANSITION,
        "step_functions_children": children
        * (
            SFN_EXPRESS_USD_PER_REQUEST
            + SFN_EXPRESS_MEMORY_GB * billed_child_ms / 1000 * SFN_EXPRESS_USD_PER_GB_SECOND
        ),
        "s3": sources * (S3_GET_USD + renditions * S3_HEAD_USD + puts * S3_PUT_USD)
        + math.ceil(sources / LIST_PAGE_KEYS) * S3_LIST_USD,
        "cloudwatch_logs": sources
        * (LAMBDA_LOG_BYTES_PER_INVOCATION_ASSUMED + LAMBDA_PLATFORM_LOG_BYTES)
        / 1e9
        * CLOUDWATCH_LOGS_USD_PER_GB,
    }
    breakdown = {key: round(value, 2) for key, value in breakdown.items()}
    breakdown["total"] = round(sum(breakdown.values()), 2)
    return breakdown


def ten_million_plan(config: DeploymentConfig, *, lambda_ms: float, renditions: int) -> dict[str, Any]:
    """A 10-million-object backfill on AWS at the configured concurrency, on paper."""
    sources = 10_000_000
    concurrent_invocations = config.backfillMaxConcurrency * config.backfillItemsPerBatch
    seconds_per_source = (lambda_ms + HANDLER_OVERHEAD_MS_ASSUMED) / 1000

    def at(concurrency: int) -> dict[str, float]:
        rate = concurrency / seconds_per_source
        # One partition of a prefix takes 3,500 PUT and 5,500 GET/HEAD per second until S3 splits it.
        prefix_rate = min(
            S3_PUTS_PER_SECOND_PER_PREFIX / renditions, S3_GETS_PER_SECOND_PER_PREFIX / (1 + renditions)
        )
        return {
            "lambda_concurrency": concurrency,
            "sources_per_second": round(rate, 1),
            "hours": round(sources / rate / 3600, 1),
            "put_per_second": round(rate * renditions),
            "get_head_per_second": round(rate * (1 + renditions)),
            "hours_within_one_prefix_partition": round(sources / min(rate, prefix_rate) / 3600, 1),
        }

    per_million = cost_per_million(config, lambda_ms=lambda_ms, renditions=renditions)
    children = math.ceil(sources / config.backfillItemsPerBatch)
    return {
        "sources": sources,
        "children": children,
        "parent_state_transitions": children + PARENT_FIXED_TRANSITIONS,
        "list_requests": math.ceil(sources / LIST_PAGE_KEYS),
        "configured": at(min(concurrent_invocations, LAMBDA_DEFAULT_CONCURRENCY)),
        "default_quota": at(LAMBDA_DEFAULT_CONCURRENCY),
        "cost_usd": round(per_million["total"] * sources / 1_000_000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000, help="sources to generate and backfill locally")
    parser.add_argument("--size", default="640x480", help="generated source size, WIDTHxHEIGHT")
    parser.add_argument("--logs", type=Path, default=Path("out/bench-backfill/worker-logs.jsonl"))
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=4,
        help="children at once in the local run (the model uses cdk.json's): two cores cannot serve the "
        "shipped 50 x 10 invocations at once, and queued ones would reach the task timeout",
    )
    args = parser.parse_args(argv)
    width, height = (int(part) for part in args.size.lower().split("x"))
    config = DeploymentConfig.from_cdk_json()
    local_config = config.model_copy(update={"backfillMaxConcurrency": args.max_concurrency})
    local = run_local(args.count, (width, height), local_config, args.logs)
    renditions = len(config.defaultRecipe.outputFormats) * len(config.defaultRecipe.outputSizes)
    memory_mb = config.memorySize.get(RENDER_ALL_TASK, 1024)
    lambda_ms = lambda_ms_per_source(local.invocation_cpu_ms_median, memory_mb)
    result = {
        "command": f"python -m benchmarks.backfill --count {args.count} --size {args.size} "
        f"--max-concurrency {args.max_concurrency}",
        "local": asdict(local),
        "model": {
            "memory_mb": memory_mb,
            "lambda_ms_per_source": round(lambda_ms, 1),
            "renditions_per_source": renditions,
            "per_million_first_run_usd": cost_per_million(config, lambda_ms=lambda_ms, renditions=renditions),
            "per_million_rerun_usd": cost_per_million(
                config, lambda_ms=lambda_ms, renditions=renditions, rerun=True
            ),
            "ten_million": ten_million_plan(config, lambda_ms=lambda_ms, renditions=renditions),
        },
    }
    print(json.dumps(result, indent=2))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
