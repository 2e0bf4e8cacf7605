"""Peak RSS of one job in a fresh process, so earlier jobs and other engines cannot inflate it.

`python -m benchmarks.memory ENGINE JOB SOURCE_FILE` is the child; it prints one JSON line.
In-process engines report the process' VmHWM; ImageMagick reports the largest `convert` child
(getrusage(RUSAGE_CHILDREN).ru_maxrss), since the Python parent is not part of its cost.

Two imgpipe rows, because they answer different questions:
- `imgpipe` (scope "imaging core"): a process holding `lambdas.core.imaging` and plain Recipes only,
  no pydantic, Powertools or boto3: comparable with the libvips process. The RSS target uses it.
- `imgpipe-handler` (scope "whole handler"): what an image_convert_resize Lambda really holds: the
  handler module imported with the function's environment, the boto3 S3 client built, each
  rendition's event validated into a Recipe as the handler does, then the same job through the core.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from benchmarks.settings import REPO_ROOT

HANDLER_ENGINE = "imgpipe-handler"
HANDLER_TASK = "image_convert_resize"
SCOPES = {
    "imgpipe": "imaging core",
    "imgpipe-batch": "imaging core",
    HANDLER_ENGINE: f"whole {HANDLER_TASK} handler (module, S3 client, input validation)",
}


def _vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no VmHWM")


def _handler_outputs(job_name: str, source_file: str) -> tuple[int, list[bytes]]:
    """Lambda's view: handler imported and S3 client built before the source arrives."""
    from benchmarks.imgpipe_engine import resize_event
    from benchmarks.jobs import JOBS

    importlib.import_module(f"lambdas.{HANDLER_TASK}.handler")
    from lambdas.adapters import s3
    from lambdas.core.imaging import render_bytes
    from lambdas.core.inputs import parse_resize_input
    from lambdas.settings import WorkerSettings

    s3.client()  # the handler's own cached client, as the first S3 read would build it
    source = Path(source_file).read_bytes()
    baseline_kb = _vm_hwm_kb()
    settings = WorkerSettings.from_env()
    outputs = []
    for rendition in JOBS[job_name].renditions:
        event = resize_event(source, rendition, f"s3://bench-uploads/{Path(source_file).name}")
        _, recipe = parse_resize_input(event, max_dimension=settings.max_output_dimension)
        outputs.append(render_bytes(source, recipe, settings.decode_limits()).data)
    return baseline_kb, outputs


def child(engine_name: str, job_name: str, source_file: str) -> dict[str, object]:
    if engine_name == HANDLER_ENGINE:
        baseline_kb, outputs = _handler_outputs(job_name, source_file)
    else:
        from benchmarks import registry
        from benchmarks.jobs import JOBS

        engine = registry.build(engine_name)
        source = Path(source_file).read_bytes()
        baseline_kb = _vm_hwm_kb()
        outputs = engine.render(source, JOBS[job_name].renditions)
    peak_kb = _vm_hwm_kb()
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    measured = children_kb if engine_name == "imagemagick" else peak_kb
    frameworks = sorted(
        {m.split(".")[0] for m in sys.modules} & {"pydantic", "aws_lambda_powertools", "boto3", "botocore"}
    )
    return {
        "engine": engine_name,
        "job": job_name,
        "scope": SCOPES.get(engine_name, "engine"),
        "peak_rss_mb": round(measured / 1024, 1),
        "baseline_rss_mb": None if engine_name == "imagemagick" else round(baseline_kb / 1024, 1),
        "output_bytes": sum(len(o) for o in outputs),
        "frameworks_loaded": frameworks,
        "what": "largest convert child" if engine_name == "imagemagick" else "whole Python process (VmHWM)",
    }


def _handler_environment() -> dict[str, str]:
    """The function's real environment (built here, in the parent, so that the child does not import
    imgpipe.config and its pydantic models), with fake credentials that are never used."""
    from imgpipe.config import DeploymentConfig, function_environment

    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= function_environment(
        HANDLER_TASK, DeploymentConfig.from_cdk_json(), output_bucket="bench-renditions"
    )
    return env | {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def measure(engine_name: str, job_name: str, source_file: Path) -> dict[str, object]:
    """Run the child in a fresh interpreter and return its report (or the error it printed)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", engine_name, job_name, str(source_file)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=_handler_environment() if engine_name == HANDLER_ENGINE else None,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        return {"engine": engine_name, "job": job_name, "error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(child(*sys.argv[1:4])))
