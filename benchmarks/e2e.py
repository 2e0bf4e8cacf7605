"""Local end-to-end time of the dynamic-fork workflow for job A (`imgpipe run ... --json`).

The runtime executes the project's real ASL in moto with the real handlers; its `durationMs` against
imgpipe's pure imaging time of the same 9 renditions is the orchestration + storage overhead. Fresh
`imgpipe run` processes also pay the handlers' imports inside the execution (a cold start); repeated
executions in one runtime (warm) are what compares with the imaging time, itself measured warm.
When the runtime is not usable, the result says why; no number is ever made up.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.jobs import JOBS
from benchmarks.settings import REPO_ROOT

WORKFLOW = "image_multiple_convert_resize"
# The S3 trigger's default workflow (cdk.json imgpipe:triggerWorkflow): the fork with a child
# resize+upload workflow per rendition. Run once, for the cost model's transition/invocation counts.
UPLOAD_WORKFLOW = "image_multiple_convert_resize_upload"


def job_a_input(source_file: Path) -> dict[str, Any]:
    job = JOBS["A"]
    formats = list(dict.fromkeys(r.fmt for r in job.renditions))
    sizes = list(dict.fromkeys((r.width, r.height) for r in job.renditions))
    return {
        "fileLocation": str(source_file),
        "outputFormats": formats,
        "outputSizes": [{"width": w, "height": h} for w, h in sizes],
        "maintainAspectRatio": True,
        "upscale": True,  # like the engine benchmark: 1200x1200 from the 900x900 source
    }


def _imgpipe() -> str:
    local = Path(sys.executable).with_name("imgpipe")
    found = str(local) if local.exists() else shutil.which("imgpipe")
    if not found:
        raise FileNotFoundError("imgpipe console script not installed")
    return found


def run_once(source_file: Path, workflow: str = WORKFLOW) -> dict[str, Any]:
    command = [_imgpipe(), "run", workflow, "--input", json.dumps(job_a_input(source_file)), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False, timeout=600)
    wall_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise RuntimeError(f"`imgpipe run` exited {done.returncode}: {' | '.join(tail)}")
    result: dict[str, Any] = json.loads(done.stdout)
    if result.get("status") != "SUCCEEDED":
        raise RuntimeError(f"execution status {result.get('status')}: {json.dumps(result)[:300]}")
    result["wallMs"] = wall_ms
    return result


def warm_durations(source_file: Path, executions: int) -> list[float]:
    """Run `executions` executions of the fork in ONE local runtime (`python -m benchmarks.e2e warm`):
    the first imports the handlers (a cold start), the others find them imported, as warm Lambdas.
    Each execution reads the source under its own key, so none can reuse an earlier one's outputs."""
    command = [sys.executable, "-m", "benchmarks.e2e", "warm", str(source_file), str(executions)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False, timeout=900)
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise RuntimeError(f"warm runs exited {done.returncode}: {' | '.join(tail)}")
    durations: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return durations


def _warm_child(source_file: Path, executions: int) -> list[float]:
    import tempfile

    from imgpipe.local import logs
    from imgpipe.local.engine import LocalAws
    from imgpipe.local.runner import LOCAL_UPLOAD_PREFIX

    durations = []
    with (
        tempfile.TemporaryDirectory() as workdir,
        logs.captured(Path(workdir) / "worker-logs.jsonl"),
        LocalAws() as aws,
    ):
        for index in range(executions):
            workflow_input = job_a_input(source_file)
            # Outside the trigger's input prefix (as `imgpipe run` does): no triggered run competes.
            key = f"{LOCAL_UPLOAD_PREFIX}bench-e2e-{index}/{source_file.name}"
            workflow_input["fileLocation"] = aws.upload_file(source_file, key=key)
            arn = aws.start_execution(WORKFLOW, workflow_input)
            aws.wait(arn)
            described = aws.sfn.describe_execution(executionArn=arn)
            if described["status"] != "SUCCEEDED":
                raise RuntimeError(f"execution {index} ended {described['status']}")
            durations.append((described["stopDate"] - described["startDate"]).total_seconds() * 1000)
    return durations


def measure(source_file: Path, imaging_ms: float | None, repeats: int) -> dict[str, Any]:
    """Cold: median of `repeats` fresh `imgpipe run` processes (handlers imported inside the
    execution). Warm: `repeats` more executions in one runtime after a first one. The overhead over
    imgpipe's pure imaging time (itself measured warm, after a warm-up round) uses the warm median."""
    runs: list[dict[str, Any]] = []
    try:
        for _ in range(repeats):
            runs.append(run_once(source_file))
        warm = warm_durations(source_file, repeats + 1)[1:]
    except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
        return {"status": "skipped", "reason": f"local runtime not usable: {error}"}
    durations = [float(r["durationMs"]) for r in runs]
    median = statistics.median(durations)
    warm_median = statistics.median(warm)
    last = runs[-1]
    return {
        "status": "measured",
        "workflow": WORKFLOW,
        "repeats": repeats,
        "median_duration_ms": round(median, 1),
        "min_duration_ms": round(min(durations), 1),
        "max_duration_ms": round(max(durations), 1),
        "median_wall_ms": round(statistics.median(r["wallMs"] for r in runs), 1),
        "warm_median_duration_ms": round(warm_median, 1),
        "warm_min_duration_ms": round(min(warm), 1),
        "warm_max_duration_ms": round(max(warm), 1),
        "imaging_ms": imaging_ms,
        "overhead_pct": None if not imaging_ms else round((warm_median / imaging_ms - 1) * 100, 1),
        "cold_overhead_pct": None if not imaging_ms else round((median / imaging_ms - 1) * 100, 1),
        "renditions": len(last.get("renditions") or []),
        "transitions": last.get("transitions"),
        "state_attempts": last.get("stateAttempts"),
    }


def counts(source_file: Path, workflow: str) -> dict[str, Any]:
    """One execution of `workflow` for job A: transitions, state attempts and duration."""
    try:
        run = run_once(source_file, workflow)
    except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
        return {"status": "skipped", "reason": f"local runtime not usable: {error}"}
    return {
        "status": "measured",
        "workflow": workflow,
        "transitions": run.get("transitions"),
        "stateAttempts": run.get("stateAttempts"),
        "durationMs": run.get("durationMs"),
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "warm":
        print(json.dumps(_warm_child(Path(sys.argv[2]), int(sys.argv[3]))))
    else:
        raise SystemExit("usage: python -m benchmarks.e2e warm SOURCE_FILE EXECUTIONS")
