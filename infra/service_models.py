"""botocore and boto3 service models in the layer: only the services the workers call.

botocore ships ~440 service directories (28 MB). The first client lists all of them
(`Loader.list_available_services`) and the layer carries them for nothing, so the layer keeps the
shared files directly under `botocore/data/` (endpoints, partitions, retry and default config) and
the directories of `WORKER_AWS_SERVICES`. A client for any other service then fails with botocore's
own `UnknownServiceError`, never with a half-loaded model; tests/infra scans lambdas/ for
`client("<name>")` so a new service cannot be forgotten here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

# Every AWS service a worker creates a client (or resource) for. lambdas/adapters/s3.py: s3;
# lambdas/adapters/stepfunctions.py (the Conductor API function): stepfunctions.
WORKER_AWS_SERVICES: tuple[str, ...] = ("s3", "stepfunctions")

# Model trees under the layer's `python/` directory: one sub-directory per service.
MODEL_TREES = ("botocore/data", "boto3/data")


class UnknownServiceModelError(ValueError):
    """A service to keep has no model in the layer's botocore (a typo would prune S3 away)."""


def services_tag(services: Iterable[str] | None) -> str:
    """What a cache key records about pruning."""
    return "models=all" if services is None else "models=" + ",".join(sorted(services))


def prune_service_models(python_dir: Path, services: Iterable[str]) -> list[str]:
    """Delete every service directory not in `services` from botocore's and boto3's data trees.

    Files directly in a data tree are shared by all services and always kept. Returns the removed
    `<tree>/<service>` paths, sorted, so the caller can log what went.
    """
    keep = set(services)
    botocore_data = python_dir / MODEL_TREES[0]
    unknown = sorted(name for name in keep if not (botocore_data / name).is_dir())
    if unknown:
        raise UnknownServiceModelError(
            f"WORKER_AWS_SERVICES names {unknown}, which botocore does not ship under {botocore_data}"
        )
    removed = []
    for tree in MODEL_TREES:
        data = python_dir / tree
        if not data.is_dir():
            continue
        for entry in sorted(data.iterdir()):
            if entry.is_dir() and entry.name not in keep:
                shutil.rmtree(entry)
                removed.append(f"{tree}/{entry.name}")
    return removed
