"""The default deployment's pricing (benchmarks/cost.py) and what a log level writes
(benchmarks/deployment_run.py), on executions whose counts are given here."""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchmarks import cost, deployment_run

HISTORY = [
    {"id": 1, "type": "ExecutionStarted", "executionStartedEventDetails": {"input": '{"big": "x"}'}},
    {"id": 2, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "t", "input": "{}"}},
    {
        "id": 3,
        "type": "LambdaFunctionFailed",
        "lambdaFunctionFailedEventDetails": {"error": "E", "cause": "c"},
    },
    {"id": 4, "type": "ExecutionFailed", "executionFailedEventDetails": {"error": "E", "cause": "c"}},
]


@pytest.mark.parametrize(
    ("level", "expected"),
    [("ALL", [1, 2, 3, 4]), ("ERROR", [3, 4]), ("FATAL", [4]), ("OFF", [])],
)
def test_each_log_level_writes_its_events(level: str, expected: list[int]) -> None:
    assert [event["id"] for event in deployment_run.logged_events(HISTORY, level)] == expected


def test_execution_data_is_logged_only_when_asked() -> None:
    with_data = deployment_run.log_bytes(HISTORY, "ALL", True, "arn:x")
    without = deployment_run.log_bytes(HISTORY, "ALL", False, "arn:x")
    assert without < with_data
    assert deployment_run.log_bytes(HISTORY[:2], "ERROR", False, "arn:x") == 0


def _run(cpu_ms: float, puts: int, heads: int = 0) -> dict[str, Any]:
    return {
        "events": 1,
        "express_requests": 1,
        "duration_ms": 650.0,
        "transitions": 19,
        "state_machine_log_bytes": 0,
        "state_machine_log_bytes_at_all_with_data": 40_000,
        "worker_log_bytes": 700,
        "worker_log_lines": 2,
        "renditions": puts,
        "invocations": [
            {
                "task": "image_render_renditions",
                "wall_ms": 600.0,
                "cpu_ms": cpu_ms,
                "s3_cpu_ms": 2.0,
                "s3_requests": {"GetObject": 1, "PutObject": puts, "HeadObject": heads},
            }
        ],
    }


def test_every_line_is_priced_from_the_counts() -> None:
    measured = {
        "workflow": "image_renditions",
        "state_machine_type": "EXPRESS",
        "log_level": "ERROR",
        "log_execution_data": False,
        "recipe": {},
        "source": {},
        "memory_mb": {"image_render_renditions": 1024},
        "runs": [_run(900.0, 4), _run(202.0, 4), _run(202.0, 4)],  # the first (cold) is not priced
    }
    priced = cost.default_deployment(measured)
    usd = priced["usd_per_million"]
    assert priced["priced_executions"] == 2
    assert usd["s3_requests"] == pytest.approx((4 * cost.S3_PUT_USD + cost.S3_GET_USD) * 1e6, abs=0.01)
    compute_ms = 200.0 * cost.LAMBDA_FULL_VCPU_MB / 1024
    billed_ms = math.ceil(compute_ms + 2 * cost.S3_REQUEST_MS_ASSUMED)  # the GET and the last PUT
    assert priced["modelled_median"]["lambda_billed_ms"] == billed_ms
    assert usd["lambda_compute"] == pytest.approx(
        billed_ms / 1000 * cost.LAMBDA_ARM_USD_PER_GB_SECOND * 1e6, abs=0.01
    )
    express_ms = math.ceil((650.0 - 600.0 + billed_ms) / 100) * 100
    assert priced["modelled_median"]["express_billed_ms"] == express_ms
    express = (
        cost.SFN_EXPRESS_USD_PER_REQUEST
        + express_ms / 1000 * cost.SFN_EXPRESS_MEMORY_GB * cost.SFN_EXPRESS_USD_PER_GB_SECOND
    )
    assert usd["step_functions"] == pytest.approx(express * 1e6, abs=0.01)
    assert usd["eventbridge"] == 0.0
    log_bytes = 700 + cost.LAMBDA_PLATFORM_LOG_BYTES_ASSUMED + (2 + 3) * cost.LOG_EVENT_OVERHEAD_BYTES
    assert usd["cloudwatch_logs"] == pytest.approx(log_bytes / 1e9 * 0.5 * 1e6, abs=0.01)
    assert usd["total"] == pytest.approx(sum(v for k, v in usd.items() if k != "total"), abs=0.011)


def test_heads_are_waited_for_in_rounds_of_the_pool_size() -> None:
    from lambdas.services.render_all import MAX_CONCURRENT_REQUESTS

    requests = {"GetObject": 1, "HeadObject": MAX_CONCURRENT_REQUESTS + 1, "PutObject": 9}
    assert cost._s3_round_trips(requests, MAX_CONCURRENT_REQUESTS) == 1 + 2 + 1


def test_targets_are_the_issue_s() -> None:
    rows = cost.default_deployment_targets(
        {"default_deployment": {"4 renditions": 29.0, "9 renditions": 61.0}}
    )
    assert [(row["met"], row["measured"]) for row in rows] == [(True, "$29.00"), (False, "$61.00")]


@pytest.mark.slow  # the whole local stack, in a subprocess
def test_a_real_upload_of_the_shipped_deployment_is_counted(tmp_path: Any) -> None:
    """The harness on the real local stack: what one upload did, counted on the local S3."""
    from tests.support import images

    source = tmp_path / "photo.jpg"
    source.write_bytes(images.jpeg_photo(640, 480))
    measured = deployment_run.measure(source, 2)
    assert measured["workflow"] == "image_renditions"
    assert measured["state_machine_type"] == "EXPRESS"
    assert measured["log_level"] == "ERROR"
    recipe = measured["recipe"]
    renditions = len(recipe["outputFormats"]) * len(recipe["outputSizes"])
    for run in measured["runs"]:
        assert run["events"] == 1
        assert run["express_requests"] == 1
        assert run["renditions"] == renditions
        assert run["state_machine_log_bytes"] == 0  # nothing failed: ERROR writes nothing
        assert run["state_machine_log_bytes_at_all_with_data"] > 0
        assert run["worker_log_lines"] >= 1
        (invocation,) = run["invocations"]
        assert invocation["task"] == "image_render_renditions"
        # a PUT per rendition; the shipped trigger recipe writes no manifest (cdk.json: writeManifest)
        manifests = 1 if recipe.get("writeManifest", True) else 0
        assert invocation["s3_requests"] == {"GetObject": 1, "PutObject": renditions + manifests}
        assert 0 < invocation["cpu_ms"] <= invocation["wall_ms"] + 1.0  # the worker process, one invocation
    priced = cost.default_deployment(measured)
    assert priced["usd_per_million"]["s3_requests"] == pytest.approx(
        ((renditions + manifests) * cost.S3_PUT_USD + cost.S3_GET_USD) * 1e6, abs=0.01
    )
