"""Request bodies as JSON, treated as hostile: size-capped, depth-capped before parsing, UTF-8 only."""

from __future__ import annotations

import json
from typing import Any

from lambdas.conductor.errors import ConductorError, refused

MAX_JSON_DEPTH = 64  # Conductor definitions nest forks, cases and loops a few levels; never 64


def json_depth(text: str) -> int:
    """How deeply a JSON text nests, read without parsing (json.loads recurses and could overflow)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json_body(raw: bytes, limit: int, *, empty: Any = None) -> Any:
    """The body as JSON, refused (400/413) when too large, too deep or not JSON. An empty body is
    ``empty`` when one is given (the start call's input may be left out), else refused."""
    if len(raw) > limit:
        raise ConductorError(413, f"request body is larger than {limit} bytes")
    if not raw.strip():
        if empty is not None:
            return empty
        refused([{"path": "body", "message": "a JSON body is required"}])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        refused([{"path": "body", "message": "the body is not UTF-8 text"}])
    if json_depth(text) > MAX_JSON_DEPTH:
        refused([{"path": "body", "message": f"JSON nested deeper than {MAX_JSON_DEPTH} levels"}])
    try:
        return json.loads(text)
    except ValueError as error:
        refused([{"path": "body", "message": f"not JSON: {error}"}])
