"""The worker code asset: the `lambdas/` package and nothing else from the repository.

Handlers are `lambdas.<task>.handler.handler`, so the asset root must contain the `lambdas/`
directory itself. CDK's glob excludes on the repository root leak dot-directories (.git, .venv)
into the asset, so the package is staged into a content-addressed directory instead: the same
sources always give the same directory, hence the same asset hash and no needless redeploys.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from imgpipe.config import PROJECT_ROOT

LAMBDAS_PACKAGE = PROJECT_ROOT / "lambdas"
DEFAULT_STAGING_ROOT = PROJECT_ROOT / ".cache" / "lambda-code"
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


def stage_package(package: Path = LAMBDAS_PACKAGE, staging_root: Path = DEFAULT_STAGING_ROOT) -> Path:
    """Copy the package to `<staging_root>/<sha256>/lambdas/` and return `<staging_root>/<sha256>`."""
    files = package_files(package)
    digest = hashlib.sha256()
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
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def worker_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(stage_package()))
