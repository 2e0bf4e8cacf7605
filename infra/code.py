"""The worker code asset: the `lambdas/` package and nothing else from the repository.

Handlers are `lambdas.<task>.handler.handler`, so the asset root must contain the `lambdas/`
directory itself. CDK's glob excludes on the repository root leak dot-directories (.git, .venv)
into the asset, so the package is staged into a content-addressed directory instead: the same
sources always give the same directory, hence the same asset hash and no needless redeploys.

The repository's own `__pycache__` (the build machine's Python, timestamp-checked) is skipped; the
staged copy is compiled for the Lambda runtime instead (infra/bytecode.py), because /var/task is
read-only and a cold start would otherwise compile every module from source.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from imgpipe.config import PROJECT_ROOT
from infra.bundling import LAMBDA_PLATFORM, DependencyBundlingError, TargetPlatform
from infra.bytecode import (
    BytecodeCompileError,
    BytecodeInterpreter,
    bytecode_tag,
    compile_tree,
    discover_interpreter,
)

LAMBDAS_PACKAGE = PROJECT_ROOT / "lambdas"
DEFAULT_STAGING_ROOT = PROJECT_ROOT / ".cache" / "lambda-code"
# Where Lambda unpacks the function code (LAMBDA_TASK_ROOT).
TASK_ROOT = "/var/task"
_SKIPPED_DIRS = frozenset({"__pycache__", "tests"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_SKIPPED_NAMES = frozenset({"requirements.txt"})  # bundled as the dependencies layer instead


def package_files(package: Path = LAMBDAS_PACKAGE) -> list[Path]:
    """Files that belong in the asset, relative to the package, in a stable order."""
    files = []
    for root, dirs, names in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(names):
            if name.endswith(_SKIPPED_SUFFIXES) or name in _SKIPPED_NAMES or name.startswith("."):
                continue
            files.append((Path(root) / name).relative_to(package))
    return files


def stage_package(
    package: Path = LAMBDAS_PACKAGE,
    staging_root: Path = DEFAULT_STAGING_ROOT,
    *,
    interpreter: BytecodeInterpreter | None = None,
) -> Path:
    """Copy the package to `<staging_root>/<sha256>/lambdas/` and return `<staging_root>/<sha256>`.

    With `interpreter`, the copy also gets its `unchecked-hash` pycs; the digest covers the sources
    and the bytecode tag, so a copy without bytecode is never reused as one with it.
    """
    files = package_files(package)
    digest = hashlib.sha256(bytecode_tag(interpreter).encode() + b"\0")
    for relative in files:
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update((package / relative).read_bytes() + b"\0")
    target = staging_root / digest.hexdigest()[:32]
    if target.is_dir():
        return target
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=staging_root))
    try:
        for relative in files:
            destination = staging / package.name / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(package / relative, destination)
        if interpreter is not None:
            try:
                compile_tree(interpreter, staging / package.name, runtime_path=f"{TASK_ROOT}/{package.name}")
            except BytecodeCompileError as error:
                raise DependencyBundlingError(str(error)) from error
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def worker_code(target: TargetPlatform = LAMBDA_PLATFORM) -> lambda_.Code:
    """The staged package, compiled for `target`'s Python when one is found (the layer warns when
    none is: infra.bundling.DependenciesLayer)."""
    return lambda_.Code.from_asset(
        str(stage_package(interpreter=discover_interpreter(target.python_version)))
    )
