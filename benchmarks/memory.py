"""Peak RSS of one job in a fresh process, so earlier jobs and other engines cannot inflate it.

`python -m benchmarks.memory ENGINE JOB SOURCE_FILE` is the child; it prints one JSON line.
In-process engines report the process' VmHWM; ImageMagick reports the largest `convert` child
(getrusage(RUSAGE_CHILDREN).ru_maxrss), since the Python parent is not part of its cost.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from benchmarks.settings import REPO_ROOT


def _vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no VmHWM")


def child(engine_name: str, job_name: str, source_file: str) -> dict[str, object]:
    from benchmarks import registry
    from benchmarks.jobs import JOBS

    engine = registry.build(engine_name)
    source = Path(source_file).read_bytes()
    baseline_kb = _vm_hwm_kb()
    outputs = engine.render(source, JOBS[job_name].renditions)
    peak_kb = _vm_hwm_kb()
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    measured = children_kb if engine_name == "imagemagick" else peak_kb
    return {
        "engine": engine_name,
        "job": job_name,
        "peak_rss_mb": round(measured / 1024, 1),
        "baseline_rss_mb": None if engine_name == "imagemagick" else round(baseline_kb / 1024, 1),
        "output_bytes": sum(len(o) for o in outputs),
        "what": "largest convert child" if engine_name == "imagemagick" else "whole Python process (VmHWM)",
    }


def measure(engine_name: str, job_name: str, source_file: Path) -> dict[str, object]:
    """Run the child in a fresh interpreter and return its report (or the error it printed)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", engine_name, job_name, str(source_file)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        return {"engine": engine_name, "job": job_name, "error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(child(*sys.argv[1:4])))
