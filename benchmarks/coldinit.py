"""Cold init of each handler module in fresh processes: `import lambdas.<task>.handler` plus the
first boto3 S3 client, with the function's real environment (imgpipe.config.function_environment).

Three scenarios, each over `repeats` fresh processes:
- `dev-venv`: the handler from the repository in the dev virtualenv (its pycs warm), as measured
  before the bundle was compiled (kept for continuity);
- `bundle, no bytecode`: the real bundle, built by infra.bundling/infra.code for THIS machine's
  Python and platform, all service models, no pycs, and bytecode neither read nor written: what a
  Lambda cold start paid before (read-only /opt and /var/task, so every module compiled from source);
- `bundle, as deployed`: the same bundle as deployed now, with unchecked-hash pycs for this
  interpreter and botocore pruned to the workers' services. The row's top-level numbers and the
  cold-init target use this scenario.
The bundle scenarios run `python -I -S -B` with the code directory and the layer's `python/` first on
sys.path and LAMBDA_TASK_ROOT set (Powertools turns the X-Ray tracer on, as on Lambda); the probe
refuses to report a number unless the handler came from the code directory and botocore from the
layer, and unless pycs were (or were not) there as the scenario says.

Interpreter start-up is measured separately (`python -c pass`): on Lambda it is part of the
runtime's own init, not of the handler's.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.settings import REPO_ROOT

TASKS = ("image_convert_resize", "image_multiple_convert_resize", "upload_toS3")
DEV_VENV = "dev-venv"
NO_BYTECODE = "bundle, no bytecode"
AS_DEPLOYED = "bundle, as deployed"
SCENARIOS = (DEV_VENV, NO_BYTECODE, AS_DEPLOYED)
TARGET_SCENARIO = AS_DEPLOYED
TARGET_MS = 300

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

# The bundle probe puts the bundle on sys.path (PYTHONPATH is ignored under -I), times the same two
# steps, then checks where the modules came from and whether their pycs exist.
BUNDLE_PROBE = """
import sys
sys.path[0:0] = [{code_dir!r}, {layer_dir!r}]
import json, time
t0 = time.perf_counter()
import importlib
handler = importlib.import_module({module!r})
t1 = time.perf_counter()
import boto3
boto3.client("s3")
t2 = time.perf_counter()
import os, botocore
def check(module, root):
    if not os.path.realpath(module.__file__).startswith(os.path.realpath(root) + os.sep):
        raise SystemExit(f"{{module.__name__}} imported from {{module.__file__}}, not from {{root}}")
    if os.path.exists(module.__cached__) != {bytecode!r}:
        raise SystemExit(f"{{module.__name__}}: pyc {{module.__cached__}} present={{not {bytecode!r}}}")
    beside = os.path.join(os.path.dirname(module.__file__), "__pycache__")
    if not {bytecode!r} and os.path.isdir(beside):
        raise SystemExit(f"{{module.__name__}}: the bundle without bytecode has pycs in {{beside}}")
check(handler, {code_dir!r})
check(botocore, {layer_dir!r})
check(boto3, {layer_dir!r})
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "client_ms": (t2 - t1) * 1000}}))
"""


class BundleProbeError(RuntimeError):
    """The bundle probe did not run the bundle it was meant to: no number is reported."""


@dataclass(frozen=True)
class Bundle:
    """One built bundle: the staged code directory and the layer directory, as infra builds them."""

    code_dir: Path
    layer_dir: Path
    bytecode: bool

    @property
    def layer_python(self) -> Path:
        return self.layer_dir / "python"

    def describe(self) -> dict[str, Any]:
        return {
            "code_dir": str(self.code_dir),
            "layer_dir": str(self.layer_dir),
            "bytecode": self.bytecode,
            "layer_bytes": _tree_bytes(self.layer_python),
            "layer_pyc_files": sum(1 for _ in self.layer_python.rglob("*.pyc")),
            "botocore_model_dirs": sum(
                1 for p in (self.layer_python / "botocore" / "data").iterdir() if p.is_dir()
            ),
        }


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@functools.cache
def bundles() -> dict[str, Bundle]:
    """The two bundles for this machine, built by the same code as the deployed ones (cached under
    .cache/lambda-deps and .cache/lambda-code like a synth)."""
    from infra.bundling import TargetPlatform, ensure_dependencies, lock_text, requirements_text
    from infra.bytecode import BytecodeInterpreter
    from infra.code import stage_package

    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    target = TargetPlatform(python_version=version, platform="manylinux_2_28_x86_64")
    this_python = BytecodeInterpreter(Path(sys.executable), sys.version_info[:2], sys.version_info[2])
    requirements = requirements_text()
    return {
        NO_BYTECODE: Bundle(
            code_dir=stage_package(interpreter=None),
            layer_dir=ensure_dependencies(
                requirements, lock=lock_text(), target=target, interpreter=None, services=None
            ),
            bytecode=False,
        ),
        AS_DEPLOYED: Bundle(
            code_dir=stage_package(interpreter=this_python),
            layer_dir=ensure_dependencies(
                requirements, lock=lock_text(), target=target, interpreter=this_python
            ),
            bytecode=True,
        ),
    }


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


def _bundle_environment(task: str, bundle: Bundle) -> dict[str, str]:
    """The function's environment plus what the Lambda runtime sets that the code reacts to."""
    env = _environment(task)
    env |= {
        "LAMBDA_TASK_ROOT": str(bundle.code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": f"bench-{task}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
    }
    return env


def _bundle_command(module: str, bundle: Bundle, pycache_prefix: Path, *, code: str) -> list[str]:
    """`-I` ignores PYTHON* variables and the user's site, `-S` skips site-packages (only the bundle
    and the stdlib are importable), `-B` never writes pycs. Without bytecode, the pyc lookup goes to
    an empty prefix directory, so nothing compiled earlier can be read."""
    command = [sys.executable, "-I", "-S", "-B"]
    if not bundle.bytecode:
        command += ["-X", f"pycache_prefix={pycache_prefix}"]
    return [*command, "-c", code]


def _top_imports(
    command: list[str], env: dict[str, str], module: str, count: int = 6
) -> list[dict[str, object]]:
    """The heaviest modules under the handler by cumulative time, from `python -X importtime`:
    the handler itself and its parents are left out, so the list names what to make lazy."""
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
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


def _run_samples(command: list[str], env: dict[str, str], repeats: int) -> list[dict[str, float]]:
    samples = []
    for _ in range(repeats):
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env, check=False)
        if done.returncode != 0:
            raise BundleProbeError((done.stderr.strip().splitlines() or ["no output"])[-1])
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return samples


def _summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    totals = [s["import_ms"] + s["client_ms"] for s in samples]
    return {
        "repeats": len(samples),
        "median_ms": round(statistics.median(totals), 1),
        "min_ms": round(min(totals), 1),
        "max_ms": round(max(totals), 1),
        "median_import_ms": round(statistics.median(s["import_ms"] for s in samples), 1),
        "median_client_ms": round(statistics.median(s["client_ms"] for s in samples), 1),
    }


def measure_scenario(task: str, scenario: str, repeats: int) -> dict[str, Any]:
    """One scenario of one handler: median/min/max over `repeats` fresh processes, or an error."""
    module = f"lambdas.{task}.handler"
    if scenario == DEV_VENV:
        env = _environment(task)
        command = [sys.executable, "-c", PROBE.format(module=module)]
        top_command = [sys.executable, "-c", f"import {module}"]
        try:
            return _summary(_run_samples(command, env, repeats)) | {
                "top_imports": _top_imports(top_command, env, module)
            }
        except BundleProbeError as error:
            return {"error": str(error)}
    bundle = bundles()[scenario]
    env = _bundle_environment(task, bundle)
    with tempfile.TemporaryDirectory(prefix="imgpipe-empty-pycache-") as empty:
        probe = BUNDLE_PROBE.format(
            module=module,
            code_dir=str(bundle.code_dir),
            layer_dir=str(bundle.layer_python),
            bytecode=bundle.bytecode,
        )
        command = _bundle_command(module, bundle, Path(empty), code=probe)
        path_setup = f"import sys; sys.path[0:0] = [{str(bundle.code_dir)!r}, {str(bundle.layer_python)!r}]; "
        top_command = _bundle_command(module, bundle, Path(empty), code=path_setup + f"import {module}")
        try:
            samples = _run_samples(command, env, repeats)
        except BundleProbeError as error:
            return {"error": str(error)}
        if any(Path(empty).iterdir()):
            return {"error": f"bytecode was written to {empty} although -B was given"}
        return _summary(samples) | {"top_imports": _top_imports(top_command, env, module)}


def measure(task: str, repeats: int) -> dict[str, Any]:
    """Every scenario for one handler. The top-level numbers (the keys docs/performance.md and the
    cold-init target read) are the `bundle, as deployed` scenario's; all three are under `scenarios`."""
    scenarios = {scenario: measure_scenario(task, scenario, repeats) for scenario in SCENARIOS}
    row: dict[str, Any] = {"task": task, "scenario": TARGET_SCENARIO, "scenarios": scenarios}
    deployed = scenarios[TARGET_SCENARIO]
    if "error" in deployed:
        return row | {"error": f"{TARGET_SCENARIO}: {deployed['error']}"}
    before = scenarios[NO_BYTECODE]
    if "error" not in before:
        row["speedup_vs_no_bytecode"] = round(before["median_ms"] / deployed["median_ms"], 2)
    return row | {key: deployed[key] for key in deployed}


def interpreter_startup_ms(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def measure_all(repeats: int, tasks: tuple[str, ...] = TASKS) -> dict[str, Any]:
    """`results["cold_init"]`: start-up, every task in every scenario, and what the bundles held."""
    return {
        "interpreter_startup_ms": interpreter_startup_ms(repeats),
        "target_scenario": TARGET_SCENARIO,
        "bundles": {name: bundle.describe() for name, bundle in bundles().items()},
        "tasks": [measure(task, repeats) for task in tasks],
    }


def targets(cold_init: dict[str, Any]) -> list[dict[str, Any]]:
    """The cold-init rows of the targets table, on the `bundle, as deployed` scenario."""
    out = []
    for row in cold_init["tasks"]:
        value = row.get("median_ms")
        out.append(
            {
                "target": f"{row['task']}: cold init ({row.get('scenario', DEV_VENV)}) <= {TARGET_MS} ms",
                "measured": f"{value} ms" if value else row.get("error"),
                "met": None if value is None else value <= TARGET_MS,
            }
        )
    return out


def report_lines(cold_init: dict[str, Any]) -> list[str]:
    """The Markdown section of docs/performance.md: every task in every scenario."""
    lines = [
        "## Handler cold init (fresh process: import + first boto3 client)",
        "",
        f"Interpreter start-up alone: {cold_init['interpreter_startup_ms']} ms (not included). "
        f"`{DEV_VENV}`: the repository in the dev virtualenv. `{NO_BYTECODE}`: the Lambda bundle built for "
        "this machine, every module compiled from source (what read-only /opt and /var/task made every "
        f"cold start pay). `{AS_DEPLOYED}`: with unchecked-hash pycs and only the S3 service model; "
        "the target uses it.",
        "",
        "| task | scenario | median ms | min | max | import | first client | heaviest imports |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in cold_init["tasks"]:
        for scenario, numbers in row.get("scenarios", {DEV_VENV: row}).items():
            if "error" in numbers:
                lines.append(f"| {row['task']} | {scenario} | not measured: {numbers['error']} | | | | | |")
                continue
            heavy = ", ".join(f"{i['module']} {i['cumulative_ms']}" for i in numbers["top_imports"][:4])
            cells = [numbers[key] for key in ("median_ms", "min_ms", "max_ms", "median_import_ms")]
            cells += [numbers["median_client_ms"], heavy]
            lines.append(f"| {row['task']} | {scenario} | " + " | ".join(str(c) for c in cells) + " |")
    for name, bundle in cold_init.get("bundles", {}).items():
        lines.append(
            f"\n`{name}` layer: {bundle['layer_bytes'] / 1e6:.1f} MB, {bundle['layer_pyc_files']} pyc files, "
            f"{bundle['botocore_model_dirs']} botocore service model directories."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.coldinit [--repeats N]`: only the cold-init part, as JSON and Markdown."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = measure_all(args.repeats)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print("\n".join(report_lines(results)))
    return 0 if all("error" not in row for row in results["tasks"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
