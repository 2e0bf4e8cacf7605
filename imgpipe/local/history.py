"""Execution history export: the events of an execution and of its child executions, as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def document(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """``{"executions": [{"executionArn", "events"}]}``, the root execution first."""
    return {
        "executions": [{"executionArn": arn, "events": list(events)} for arn, events in histories.items()]
    }


def dumps(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    return json.dumps(document(histories), indent=2, default=_json_default)


def write(path: Path, histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(histories) + "\n", encoding="utf-8")
    return path
