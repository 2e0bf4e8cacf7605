"""image_multiple_convert_resize: validate the request and build the dynamic-fork plan (no I/O)."""

from __future__ import annotations

from typing import Any

from lambdas.adapters.fetch import parse_target
from lambdas.adapters.s3 import parse_s3_uri
from lambdas.adapters.sources import is_local_path, require_local_paths_allowed
from lambdas.core.errors import SourceRefusedError
from lambdas.core.planner import plan
from lambdas.settings import WorkerSettings


def check_location(location: str, settings: WorkerSettings) -> None:
    """Refuse a bad fileLocation before fanning out N workers that would each refuse it."""
    from lambdas.adapters.fetch import host_allowed

    if location.startswith("s3://"):
        parse_s3_uri(location)
    elif location[:8].lower() == "https://":
        target = parse_target(location)
        if not host_allowed(target.host, settings.allowed_url_hosts):
            raise SourceRefusedError("fileLocation", f"host {target.host} is not in ALLOWED_URL_HOSTS")
    elif is_local_path(location):
        require_local_paths_allowed(settings)
    else:
        raise SourceRefusedError("fileLocation", "unsupported scheme; use s3:// or https://")


def plan_renditions(event: Any, settings: WorkerSettings) -> dict[str, Any]:
    result = plan(event, max_dimension=settings.max_output_dimension, max_fanout=settings.max_fanout)
    check_location(result["dynamicForkItems"][0]["input"]["fileLocation"], settings)
    return result
