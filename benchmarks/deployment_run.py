"""Real local executions of the default deployment (cdk.json as shipped), and what each one did.

Each upload goes through the whole local stack: the S3 PutObject under the input prefix, the
EventBridge rule and its input transformer, the trigger workflow (as its deployed type), the real
handler. Per execution it records what the bill is made of: the Lambda invocations (wall time, the
worker process's CPU time, the worker's own log bytes: benchmarks/worker_probe.py), the S3 requests
the worker made (counted on its own client, by operation), the EventBridge events that started it, the Express
duration and the history (transitions; the events the shipped log level would write).

Run in a fresh process (`python -m benchmarks.deployment_run SOURCE EXECUTIONS [RECIPE_JSON]`,
printing one JSON object), so that the first execution is a real cold start and no other benchmark's
imports or caches are in the process.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.settings import REPO_ROOT
from benchmarks.worker_probe import is_probe_line, probed_tasks

# Step Functions' log levels: which history events each writes
# (https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html): ERROR logs the
# failure events, FATAL only ExecutionFailed/Aborted/TimedOut, ALL every event, OFF none.
_FATAL_EVENTS = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
_ERROR_SUFFIXES = ("Failed", "TimedOut", "Aborted")
_DATA_FIELDS = ("input", "output", "inputDetails", "outputDetails", "parameters", "result", "cause")


def logged_events(history: list[dict[str, Any]], level: str) -> list[dict[str, Any]]:
    """The history events a state machine logging at `level` writes to CloudWatch Logs."""
    if level == "ALL":
        return list(history)
    if level == "ERROR":
        return [event for event in history if event["type"].endswith(_ERROR_SUFFIXES)]
    if level == "FATAL":
        return [event for event in history if event["type"] in _FATAL_EVENTS]
    return []


def _without_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_data(v) for k, v in value.items() if k not in _DATA_FIELDS}
    return value


def log_bytes(history: list[dict[str, Any]], level: str, include_data: bool, execution_arn: str) -> int:
    """Bytes of the log records of one execution: each logged history event as JSON with the
    execution ARN (the record's own fields), its inputs/outputs only when execution data is logged."""
    total = 0
    for event in logged_events(history, level):
        record = event if include_data else _without_data(event)
        total += len(json.dumps({"execution_arn": execution_arn, **record}, default=str))
    return total


@dataclass
class InvocationRecord:
    """One Lambda invocation as measured here."""

    task: str
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    s3_cpu_ms: float = 0.0  # the worker's CPU inside its S3 calls (the client's side: moto serves them
    # in the runtime's own process)
    s3_requests: Counter[str] = field(default_factory=Counter)


def _records(invocations: list[Any], task_of: dict[str, str]) -> list[InvocationRecord]:
    from benchmarks.worker_probe import probes

    records = []
    for invocation in invocations:
        for probe in probes([invocation.logs]):
            records.append(
                InvocationRecord(
                    task_of[invocation.function_name],
                    probe["wall_ms"],
                    probe["cpu_ms"],
                    probe["s3_cpu_ms"],
                    Counter(probe["s3_requests"]),
                )
            )
    return records


def _worker_log_lines(path: Path, start: int) -> tuple[list[bytes], int]:
    """The worker's JSON log lines (Powertools logs, EMF metrics) written after `start`, and the new
    end of the file; moto's and botocore's own log lines are not worker output."""
    with path.open("rb") as stream:
        stream.seek(start)
        text = stream.read()
    lines = [line for line in text.splitlines() if line.startswith(b"{") and not is_probe_line(line)]
    return lines, start + len(text)


def _run_child(source: Path, executions: int, recipe: dict[str, Any] | None) -> dict[str, Any]:
    from imgpipe.config import WORKER_TASKS, DefaultRecipe, DeploymentConfig
    from imgpipe.local import logs
    from imgpipe.local.engine import LocalAws, default_handler
    from imgpipe.local.results import transitions

    config = DeploymentConfig.from_cdk_json()
    if recipe is not None:
        config = config.model_copy(update={"defaultRecipe": DefaultRecipe.model_validate(recipe)})
    runs = []
    task_of = {config.function_name(task): task for task in WORKER_TASKS}
    body = source.read_bytes()
    with tempfile.TemporaryDirectory() as workdir:
        log_path = Path(workdir) / "worker-logs.jsonl"
        probed = probed_tasks(WORKER_TASKS, default_handler)
        with logs.captured(log_path), LocalAws(config, **probed) as aws:
            trigger_arn = aws.state_machine_arn(config.triggerWorkflow)
            machine_type = aws.sfn.describe_state_machine(stateMachineArn=trigger_arn)["type"]
            log_offset = 0
            for index in range(executions):
                first_record = len(aws.router.invocations)
                deliveries = len(aws.trigger_deliveries)
                # The user's upload (not part of the bill modelled here) starts the trigger.
                key = f"{config.inputPrefix}bench-cost/{index}/{source.name}"
                aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=body)
                started = [d for d in aws.trigger_deliveries[deliveries:] if d.execution_arn]
                if len(started) != 1:
                    raise RuntimeError(f"upload {index} started {len(started)} executions, expected 1")
                arn = started[0].execution_arn
                assert arn is not None
                described = aws.wait(arn, timeout_seconds=300)
                if described["status"] != "SUCCEEDED":
                    raise RuntimeError(
                        f"execution {index} ended {described['status']}: {described.get('cause')}"
                    )
                history = aws.history(arn)
                invocations = _records(aws.router.invocations[first_record:], task_of)
                sys.stdout.flush()  # the routed stdout: the log file, written through
                worker_lines, log_offset = _worker_log_lines(log_path, log_offset)
                output = json.loads(described["output"])
                runs.append(
                    {
                        "events": len(aws.trigger_deliveries) - deliveries,
                        "express_requests": 1 if machine_type == "EXPRESS" else 0,
                        "duration_ms": (described["stopDate"] - described["startDate"]).total_seconds()
                        * 1000,
                        "transitions": transitions(history),
                        "state_machine_log_bytes": log_bytes(
                            history, config.stateMachineLogLevel, config.stateMachineLogExecutionData, arn
                        ),
                        "state_machine_log_bytes_at_all_with_data": log_bytes(history, "ALL", True, arn),
                        "worker_log_bytes": sum(len(line) + 1 for line in worker_lines),
                        "worker_log_lines": len(worker_lines),
                        "renditions": len(output.get("renditions") or []),
                        "invocations": [
                            {
                                "task": r.task,
                                "wall_ms": round(r.wall_ms, 2),
                                "cpu_ms": round(r.cpu_ms, 2),
                                "s3_cpu_ms": round(r.s3_cpu_ms, 2),
                                "s3_requests": dict(r.s3_requests),
                            }
                            for r in invocations
                        ],
                    }
                )
    return {
        "workflow": config.triggerWorkflow,
        "state_machine_type": machine_type,
        "log_level": config.stateMachineLogLevel,
        "log_execution_data": config.stateMachineLogExecutionData,
        "memory_mb": dict(config.memorySize),
        "recipe": config.defaultRecipe.model_dump(mode="json"),
        "source": {"name": source.name, "bytes": len(body)},
        "runs": runs,
    }


def measure(source: Path, executions: int, recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """`executions` uploads in one fresh local runtime; the first is a cold start."""
    command = [sys.executable, "-m", "benchmarks.deployment_run", str(source), str(executions)]
    if recipe is not None:
        command.append(json.dumps(recipe))
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False, timeout=900)
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise RuntimeError(f"default-deployment runs exited {done.returncode}: {' | '.join(tail)}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def warm_median(runs: list[dict[str, Any]], value: Callable[[dict[str, Any]], float]) -> float:
    """Median over the warm runs (all but the first, which imported the handler), or the only run."""
    warm = runs[1:] or runs
    return float(statistics.median(value(run) for run in warm))


if __name__ == "__main__":
    if len(sys.argv) in (3, 4):
        recipe_arg = json.loads(sys.argv[3]) if len(sys.argv) == 4 else None
        print(json.dumps(_run_child(Path(sys.argv[1]), int(sys.argv[2]), recipe_arg)))
    else:
        raise SystemExit("usage: python -m benchmarks.deployment_run SOURCE EXECUTIONS [RECIPE_JSON]")
