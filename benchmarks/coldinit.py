"""Cold init of each handler module in fresh processes: `import lambdas.<task>.handler` plus the
first boto3 S3 client, with the function's real environment (imgpipe.config.function_environment).

Interpreter start-up is measured separately (`python -c pass`): on Lambda it is part of the
runtime's own init, not of the handler's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.settings import REPO_ROOT

PROBE = """
import json, time
t0 = time.perf_counter()
import importlib
importlib.import_module({module!r})
t1 = time.perf_counter()
import boto3
boto3.client("s3")
t2 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "client_ms": (t2 - t1) * 1000}}))
"""


def _environment(task: str) -> dict[str, str]:
    from imgpipe.config import DeploymentConfig, function_environment

    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= function_environment(task, DeploymentConfig.from_cdk_json(), output_bucket="bench-renditions")
    # Client creation must never look for real credentials or an instance metadata endpoint.
    env |= {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env


def _top_imports(module: str, env: dict[str, str], count: int = 6) -> list[dict[str, object]]:
    """The heaviest modules under the handler by cumulative time, from `python -X importtime`:
    the handler itself and its parents are left out, so the list names what to make lazy."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )
    rows: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        name = name.strip()
        if cumulative.strip().isdigit() and not module.startswith(name):
            rows[name] = max(rows.get(name, 0.0), int(cumulative) / 1000)
    # Keep a module only if no heavier listed module is its package (avoid listing a.b.c under a.b).
    ranked = sorted(rows.items(), key=lambda item: -item[1])
    chosen: list[tuple[str, float]] = []
    for name, ms in ranked:
        if not any(name.startswith(parent + ".") for parent, _ in chosen):
            chosen.append((name, ms))
        if len(chosen) == count:
            break
    return [{"module": name, "cumulative_ms": round(ms, 1)} for name, ms in chosen]


def measure(task: str, repeats: int) -> dict[str, object]:
    module = f"lambdas.{task}.handler"
    env = _environment(task)
    samples = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            return {"task": task, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    totals = [s["import_ms"] + s["client_ms"] for s in samples]
    return {
        "task": task,
        "repeats": repeats,
        "median_ms": round(statistics.median(totals), 1),
        "min_ms": round(min(totals), 1),
        "max_ms": round(max(totals), 1),
        "median_import_ms": round(statistics.median(s["import_ms"] for s in samples), 1),
        "median_client_ms": round(statistics.median(s["client_ms"] for s in samples), 1),
        "top_imports": _top_imports(module, env),
    }


def interpreter_startup_ms(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)
