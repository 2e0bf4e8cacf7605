"""The S3 upload trigger, described once for the CDK rule and the local runtime.

An object put under ``config.inputPrefix`` of the input bucket, with one of ``config.inputSuffixes``,
makes S3 send an EventBridge "Object Created" event; an EventBridge rule matches it and starts
``config.triggerWorkflow`` with the seeds' dynamic-fork input built by an input transformer, using
``config.defaultRecipe``. Everything here is plain dicts and strings (no CDK, no moto, no boto3), so
``infra/`` can feed it to ``events.Rule`` and the local engine can apply it to the events it emits.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from imgpipe.config import DeploymentConfig

EVENT_SOURCE = "aws.s3"
DETAIL_TYPE = "Object Created"
# EventBridge input-transformer placeholders: path name -> JSONPath into the event.
INPUT_PATHS = {
    "bucket": "$.detail.bucket.name",
    "key": "$.detail.object.key",
    "versionId": "$.detail.object.version-id",
    "etag": "$.detail.object.etag",
    "size": "$.detail.object.size",
}
# The event form of an S3 location (parsed by lambdas.adapters.s3.parse_s3_uri, docs/workers.md): the
# key exactly as the event carries it (form-encoded, so it holds no `"`, `\` or `?`: EventBridge does
# not escape placeholder values) and the object version the event names.
FILE_LOCATION_TEMPLATE = "s3://<bucket>/<key>?versionId=<versionId>&etag=<etag>&size=<size>"
EXECUTION_NAME_LIMIT = 80


class TriggerError(ValueError):
    """An event, pattern or transformer that the trigger cannot handle; the message names the field."""


# --- what the deployed rule is ----------------------------------------------------------------
def event_pattern(config: DeploymentConfig, bucket_name: str) -> dict[str, Any]:
    """The EventBridge event pattern of the trigger rule.

    Suffixes are matched ignoring case (``IMG_0001.JPG`` is an image too); the prefix is exact.
    """
    detail: dict[str, Any] = {"bucket": {"name": [bucket_name]}}
    if config.inputPrefix:
        detail["object"] = {"key": [{"prefix": config.inputPrefix}]}
    pattern: dict[str, Any] = {"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE], "detail": detail}
    if config.inputSuffixes:
        pattern["$or"] = [
            {"detail": {"object": {"key": [{"suffix": {"equals-ignore-case": suffix}}]}}}
            for suffix in config.inputSuffixes
        ]
    return pattern


def input_transformer(config: DeploymentConfig) -> dict[str, Any]:
    """The rule target's InputTransformer: the seeds' dynamic-fork input with the default recipe,
    ``fileLocation`` naming exactly the object version the event announces.

    Returned in the EventBridge API's shape (``InputPathsMap``, ``InputTemplate``).
    """
    recipe = config.defaultRecipe.model_dump(mode="json")
    workflow_input = {"fileLocation": FILE_LOCATION_TEMPLATE, **recipe}
    return {"InputPathsMap": dict(INPUT_PATHS), "InputTemplate": json.dumps(workflow_input)}


# --- the event S3 sends -------------------------------------------------------------------------
def encode_event_key(key: str) -> str:
    """Object keys in S3 event notifications are URL-encoded form-style (space -> ``+``)."""
    return urllib.parse.quote_plus(key, safe="/")


def object_created_event(
    *,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    sequencer: str,
    version_id: str | None = None,
    region: str = "us-east-1",
    account: str = "123456789012",
    reason: str = "PutObject",
    event_id: str | None = None,
    time: datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The EventBridge event S3 sends for a created object, in the documented shape.

    ``key`` is the object's real key; the event carries it URL-encoded, as S3 notifications do.
    ``version-id`` is present only for versioned buckets.
    """
    obj: dict[str, Any] = {"key": encode_event_key(key), "size": size, "etag": etag.strip('"')}
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    obj["sequencer"] = sequencer
    when = (time or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": account,
        "time": when,
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": request_id or uuid.uuid4().hex[:16].upper(),
            "requester": account,
            "source-ip-address": "127.0.0.1",
            "reason": reason,
        },
    }


def execution_name(event: Mapping[str, Any]) -> str:
    """A Step Functions execution name that is the same for every delivery of one S3 event.

    Derived from bucket, key, version id and sequencer (unique per write of a key), so a duplicate
    delivery is refused with ExecutionAlreadyExists while a re-upload of the same key starts anew.
    """
    detail = _require(event, "detail")
    obj = _require(detail, "object")
    identity = "\n".join(
        [
            str(_require(_require(detail, "bucket"), "name")),
            str(_require(obj, "key")),
            str(obj.get("version-id", "")),
            str(_require(obj, "sequencer")),
        ]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    stem = urllib.parse.unquote_plus(str(obj["key"])).rsplit("/", 1)[-1]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")
    room = EXECUTION_NAME_LIMIT - len("s3--") - len(digest)
    return f"s3-{readable[:room]}-{digest}" if readable else f"s3-{digest}"


# --- applying a rule to an event ----------------------------------------------------------------
_MISSING = object()
SUPPORTED_OPERATORS = frozenset({"exists", "anything-but", "equals-ignore-case", "prefix", "suffix"})
ANYTHING_BUT_NESTED_OPERATORS = frozenset({"equals-ignore-case", "prefix", "suffix"})


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches an EventBridge ``pattern``.

    Supports the operators the trigger uses: exact values, ``prefix``, ``suffix``,
    ``equals-ignore-case`` (alone or inside prefix/suffix), ``exists``, ``anything-but`` (of values, or of
    one prefix/suffix/equals-ignore-case) and ``$or``.
    An unknown operator raises TriggerError rather than silently matching.
    """
    for field_name, expected in pattern.items():
        if field_name == "$or":
            if not isinstance(expected, list) or not expected:
                raise TriggerError("pattern $or: must be a non-empty list of patterns")
            if not any(matches(alternative, event) for alternative in expected):
                return False
            continue
        value = event.get(field_name, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not isinstance(value, Mapping) or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not _matches_any(expected, value, field_name):
                return False
        else:
            raise TriggerError(f"pattern field {field_name!r}: must be an object or a list of filters")
    return True


def _matches_any(filters: Sequence[Any], value: Any, field_name: str) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(_matches_filter(flt, candidate, field_name) for flt in filters for candidate in values)


def _matches_filter(flt: Any, value: Any, field_name: str) -> bool:
    if not isinstance(flt, Mapping):
        return value is not _MISSING and value == flt
    if len(flt) != 1:
        raise TriggerError(f"pattern field {field_name!r}: a filter object has exactly one operator")
    operator, operand = next(iter(flt.items()))
    if operator not in SUPPORTED_OPERATORS:
        raise TriggerError(f"pattern field {field_name!r}: operator {operator!r} is not supported")
    if operator == "exists":
        return (value is not _MISSING) == bool(operand)
    if value is _MISSING:
        return False
    if operator == "anything-but":
        if isinstance(operand, Mapping):
            return not _matches_excluded_pattern(operand, value, field_name)
        excluded = operand if isinstance(operand, list) else [operand]
        return value not in excluded
    if not isinstance(value, str):
        return False
    if operator == "equals-ignore-case":
        return isinstance(operand, str) and value.lower() == operand.lower()
    if operator in ("prefix", "suffix"):
        ignore_case = isinstance(operand, Mapping) and "equals-ignore-case" in operand
        text = operand["equals-ignore-case"] if ignore_case else operand
        if not isinstance(text, str):
            raise TriggerError(f"pattern field {field_name!r}: {operator} needs a string")
        subject, text = (value.lower(), text.lower()) if ignore_case else (value, text)
        return subject.startswith(text) if operator == "prefix" else subject.endswith(text)
    raise TriggerError(f"pattern field {field_name!r}: operator {operator!r} is not supported")


def _matches_excluded_pattern(operand: Mapping[str, Any], value: Any, field_name: str) -> bool:
    """The inside of ``{"anything-but": {"prefix"|"suffix"|"equals-ignore-case": text or [texts]}}``.

    Anything else nested in anything-but is refused: matching it loosely would let events through
    that the deployed rule rejects (or the reverse).
    """
    nested = sorted(operand)
    if len(nested) != 1 or nested[0] not in ANYTHING_BUT_NESTED_OPERATORS:
        raise TriggerError(
            f"pattern field {field_name!r}: anything-but takes a value, a list of values or exactly one "
            f"of {', '.join(sorted(ANYTHING_BUT_NESTED_OPERATORS))}; got {nested}"
        )
    operator = nested[0]
    texts = operand[operator] if isinstance(operand[operator], list) else [operand[operator]]
    if not texts or not all(isinstance(text, str) for text in texts):
        raise TriggerError(
            f"pattern field {field_name!r}: anything-but {operator} needs a string "
            "or a non-empty list of strings"
        )
    if not isinstance(value, str):
        return False  # a number, boolean or null neither starts, ends nor equals a string
    return any(_matches_filter({operator: text}, value, field_name) for text in texts)


def apply_input_transformer(transformer: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """Render an InputTransformer for ``event`` as EventBridge does; returns the target input text.

    A placeholder inside a JSON string is replaced by the value's text (escaped for JSON);
    outside a string by the value's JSON. A path that is absent in the event renders as null/empty.
    """
    paths = transformer.get("InputPathsMap", {})
    template = transformer.get("InputTemplate")
    if not isinstance(template, str):
        raise TriggerError("InputTransformer.InputTemplate: must be a string")
    values = {name: _resolve_path(event, path) for name, path in paths.items()}
    out: list[str] = []
    in_string = False
    index = 0
    while index < len(template):
        char = template[index]
        if char == "\\" and in_string:
            out.append(template[index : index + 2])
            index += 2
            continue
        if char == '"':
            in_string = not in_string
        match = re.match(r"<([A-Za-z0-9_.-]+)>", template[index:]) if char == "<" else None
        if match and match.group(1) in values:
            value = values[match.group(1)]
            if in_string:
                text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
            index += match.end()
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _resolve_path(event: Mapping[str, Any], path: str) -> Any:
    if not path.startswith("$"):
        raise TriggerError(f"InputPathsMap path {path!r}: must start with '$'")
    node: Any = event
    for part in [p for p in path[1:].split(".") if p]:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _require(mapping: Any, name: str) -> Any:
    if not isinstance(mapping, Mapping) or name not in mapping:
        raise TriggerError(f"event field {name!r}: missing")
    return mapping[name]
