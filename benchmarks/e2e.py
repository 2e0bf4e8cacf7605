"""Local end-to-end time of the dynamic-fork workflow for job A (`imgpipe run ... --json`).

The runtime executes the project's real ASL in moto with the real handlers; its `durationMs` against
imgpipe's pure imaging time of the same 9 renditions is the orchestration + storage overhead.
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


def measure(source_file: Path, imaging_ms: float | None, repeats: int) -> dict[str, Any]:
    """Median of `repeats` local executions; overhead relative to imgpipe's pure imaging time."""
    runs: list[dict[str, Any]] = []
    try:
        for _ in range(repeats):
            runs.append(run_once(source_file))
    except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
        return {"status": "skipped", "reason": f"local runtime not usable: {error}"}
    durations = [float(r["durationMs"]) for r in runs]
    median = statistics.median(durations)
    last = runs[-1]
    return {
        "status": "measured",
        "workflow": WORKFLOW,
        "repeats": repeats,
        "median_duration_ms": round(median, 1),
        "min_duration_ms": round(min(durations), 1),
        "max_duration_ms": round(max(durations), 1),
        "median_wall_ms": round(statistics.median(r["wallMs"] for r in runs), 1),
        "imaging_ms": imaging_ms,
        "overhead_pct": None if not imaging_ms else round((median / imaging_ms - 1) * 100, 1),
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
