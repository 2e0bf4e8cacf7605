"""Worker dependencies (Pillow, Powertools, pydantic) as a Lambda layer, built without Docker.

pip downloads the manylinux aarch64 wheels for the Lambda Python version, each at the version and
with the sha256 that `requirements.lock` pins (infra/lock.py: the same lock the dev environment is
installed from), into a cache directory keyed by the requirements, the lock and the target
platform, so repeated synths and test sessions reuse it instead of downloading again. A layer
(rather than copying the wheels into each function's asset) keeps the function asset the plain
`lambdas/` package, is uploaded once for all workers and only changes when the lock does.

After pip, the layer keeps only the botocore/boto3 models of the services the workers call
(infra/service_models.py) and gets bytecode for the runtime's Python (infra/bytecode.py): Lambda's
/opt is read-only, so without pycs every cold start compiles every module from source.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Annotations
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from imgpipe.config import PROJECT_ROOT
from infra.bytecode import (
    INTERPRETER_ENV_VAR,
    BytecodeCompileError,
    BytecodeInterpreter,
    bytecode_tag,
    compile_tree,
    discover_interpreter,
)
from infra.lock import LOCK_FILE
from infra.service_models import WORKER_AWS_SERVICES, prune_service_models, services_tag

REQUIREMENTS_FILE = PROJECT_ROOT / "lambdas" / "requirements.txt"
DEFAULT_CACHE_ROOT = PROJECT_ROOT / ".cache" / "lambda-deps"
# Used only until lambdas/requirements.txt exists (the workers' own list wins as soon as it does).
FALLBACK_REQUIREMENTS = "pillow\naws-lambda-powertools[tracer]\npydantic\n"
COMPLETE_MARKER = ".complete"
# Where Lambda mounts the layer's `python/` directory (first on sys.path).
LAYER_RUNTIME_PATH = "/opt/python"


class DependencyBundlingError(RuntimeError):
    """pip could not produce the layer; synth stops with the reason instead of deploying a broken app."""


@dataclass(frozen=True)
class TargetPlatform:
    """The Lambda platform the wheels are resolved for.

    Lambda's Python 3.12 and 3.13 runtimes run on Amazon Linux 2023 (glibc 2.34), so wheels up to
    `manylinux_2_28` load there. pip does not widen a `manylinux_2_28` tag to older wheels by itself,
    so every older glibc tag of the same architecture down to manylinux2014 (glibc 2.17) is passed
    too: some packages only publish manylinux2014, some (Pillow 13 on aarch64) only
    `manylinux_2_28`, and mini-racer only `manylinux_2_27`. With manylinux2014 alone, pip silently
    picked an older Pillow for the layer than the one the tests run.
    """

    python_version: str = "3.13"
    platform: str = "manylinux_2_28_aarch64"
    implementation: str = "cp"

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        match = re.fullmatch(r"manylinux_2_(\d+)_(aarch64|x86_64)", self.platform)
        if match is None:
            return (self.platform,)
        glibc, arch = int(match.group(1)), match.group(2)
        older = tuple(f"manylinux_2_{minor}_{arch}" for minor in range(glibc - 1, 17, -1))
        return (self.platform, *older, f"manylinux2014_{arch}")

    @property
    def runtime(self) -> lambda_.Runtime:
        return {"3.12": lambda_.Runtime.PYTHON_3_12, "3.13": lambda_.Runtime.PYTHON_3_13}[self.python_version]

    @property
    def architecture(self) -> lambda_.Architecture:
        return lambda_.Architecture.ARM_64 if "aarch64" in self.platform else lambda_.Architecture.X86_64


LAMBDA_PLATFORM = TargetPlatform()


def requirements_text(requirements_file: Path = REQUIREMENTS_FILE) -> str:
    if requirements_file.is_file():
        return requirements_file.read_text()
    return FALLBACK_REQUIREMENTS


def lock_text(lock_file: Path = LOCK_FILE) -> str:
    if not lock_file.is_file():
        raise DependencyBundlingError(f"{lock_file} is missing: run `make lock` to pin the layer's packages")
    return lock_file.read_text()


def cache_key(
    requirements: str,
    target: TargetPlatform,
    *,
    lock: str = "",
    interpreter: BytecodeInterpreter | None = None,
    services: tuple[str, ...] | None = WORKER_AWS_SERVICES,
) -> str:
    """sha256 of everything that changes the layer's files: the requirements and the lock that pins
    them, pip's wheel choice, the bytecode (and which Python wrote it) and the pruned service models."""
    material = "\n".join(
        [
            requirements,
            hashlib.sha256(lock.encode()).hexdigest(),
            *target.pip_platforms,
            target.python_version,
            target.implementation,
            "pip-no-compile",
            "no-console-scripts",
            bytecode_tag(interpreter),
            services_tag(services),
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def ensure_dependencies(
    requirements: str,
    *,
    lock: str,
    target: TargetPlatform = LAMBDA_PLATFORM,
    cache_root: Path = DEFAULT_CACHE_ROOT,
    interpreter: BytecodeInterpreter | None = None,
    services: tuple[str, ...] | None = WORKER_AWS_SERVICES,
) -> Path:
    """Return a layer directory (`<dir>/python/...`) for `requirements`, running pip only on a cache miss.

    `lock` (the text of requirements.lock) constrains every package pip installs, hash-checked:
    a package it does not pin, or a file whose sha256 it does not list, fails the build.

    `interpreter` (a Python of `target.python_version`, see `infra.bytecode.discover_interpreter`)
    compiles the layer; None ships sources only. `services` are the AWS service models kept (None:
    all of them). The install goes to a temporary sibling directory that is renamed into place when
    pip, pruning and compiling all succeeded, so a failure never leaves a half-filled cache entry.
    """
    if interpreter is not None and interpreter.version_text != target.python_version:
        raise DependencyBundlingError(
            f"bytecode for Python {target.python_version} cannot come from Python {interpreter.version_text} "
            f"({interpreter.path})"
        )
    layer_dir = cache_root / cache_key(
        requirements, target, lock=lock, interpreter=interpreter, services=services
    )
    if (layer_dir / COMPLETE_MARKER).is_file():
        return layer_dir
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{layer_dir.name}.", dir=cache_root))
    try:
        requirements_path = staging / "requirements.txt"
        requirements_path.write_text(requirements)
        lock_path = staging / "requirements.lock"
        lock_path.write_text(lock)
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            *(arg for platform in target.pip_platforms for arg in ("--platform", platform)),
            "--only-binary=:all:",
            "--python-version",
            target.python_version,
            "--implementation",
            target.implementation,
            "--require-hashes",
            "--target",
            str(staging / "python"),
            "-r",
            str(requirements_path),
            "-c",
            str(lock_path),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DependencyBundlingError(
                f"pip could not fetch the Lambda dependencies for {'/'.join(target.pip_platforms)} / Python "
                f"{target.python_version} pinned by requirements.lock (is PyPI reachable? is the lock "
                f"current: `make lock`?). Command: {' '.join(command)}\n"
                f"{result.stderr.strip()[-2000:]}"
            )
        requirements_path.unlink()
        lock_path.unlink()
        remove_console_scripts(staging / "python")
        if services is not None:
            prune_service_models(staging / "python", services)
        if interpreter is not None:
            try:
                compile_tree(interpreter, staging / "python", runtime_path=LAYER_RUNTIME_PATH)
            except BytecodeCompileError as error:
                raise DependencyBundlingError(str(error)) from error
        (staging / COMPLETE_MARKER).write_text(requirements)
        try:
            os.replace(staging, layer_dir)
        except OSError:
            # Another synth filled the same entry concurrently; theirs is as good as ours.
            if not (layer_dir / COMPLETE_MARKER).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return layer_dir


def remove_console_scripts(site_dir: Path) -> None:
    """Delete `bin/` and its lines in the `RECORD`s. Console scripts are never run inside Lambda,
    and pip writes the build machine's interpreter path into their shebangs, so their hashes in
    RECORD would make the layer's bytes (and asset hash) depend on where the build ran."""
    shutil.rmtree(site_dir / "bin", ignore_errors=True)
    for record in site_dir.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith("../../bin/")]
        if kept != lines:
            record.write_text("".join(kept))


def no_bytecode_warning(target: TargetPlatform) -> str:
    return (
        f"No Python {target.python_version} found to compile the layer and the worker code: they are "
        f"deployed without bytecode, so every cold start compiles every module from source (about 4x "
        f"the init time). Install python{target.python_version} (on PATH or with pyenv) or set "
        f"{INTERPRETER_ENV_VAR} to one, then synth again."
    )


class DependenciesLayer(Construct):
    """The workers' third-party packages, shared by every worker function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: TargetPlatform = LAMBDA_PLATFORM,
        cache_root: Path = DEFAULT_CACHE_ROOT,
        requirements_file: Path = REQUIREMENTS_FILE,
        lock_file: Path = LOCK_FILE,
        services: tuple[str, ...] | None = WORKER_AWS_SERVICES,
    ) -> None:
        """`services`: the AWS service models kept (None for a layer without botocore)."""
        super().__init__(scope, construct_id)
        self.interpreter = discover_interpreter(target.python_version)
        if self.interpreter is None:
            Annotations.of(self).add_warning_v2("imgpipe:noBytecode", no_bytecode_warning(target))
        self.directory = ensure_dependencies(
            requirements_text(requirements_file),
            lock=lock_text(lock_file),
            target=target,
            cache_root=cache_root,
            interpreter=self.interpreter,
            services=services,
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(str(self.directory), exclude=[COMPLETE_MARKER]),
            compatible_runtimes=[target.runtime],
            compatible_architectures=[target.architecture],
            description=f"imgpipe worker dependencies ({self.directory.name})",
        )
