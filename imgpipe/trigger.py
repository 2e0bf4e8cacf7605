"""The S3 upload trigger, described once for the CDK rule and the local runtime.

An object put under ``config.inputPrefix`` of the input bucket, with one of ``config.inputSuffixes``,
makes S3 send an EventBridge "Object Created" event; an EventBridge rule matches it and starts
``config.triggerWorkflow`` with the seeds' dynamic-fork input built by an input transformer, using
``config.defaultRecipe``, plus the event's identity for the envelope's claim (``imgpipe.envelope``).
Everything here is plain dicts and strings (no CDK, no boto3; moto only inside ``matches``), so
``infra/`` can feed it to ``events.Rule`` and the local engine can apply it to the events it emits.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from collections.abc import Mapping
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
    "sequencer": "$.detail.object.sequencer",
}
# The event form of an S3 location (parsed by lambdas.adapters.s3.parse_s3_uri, docs/workers.md): the
# key exactly as the event carries it (form-encoded, so it holds no `"`, `\` or `?`: EventBridge does
# not escape placeholder values) and the object version the event names.
FILE_LOCATION_TEMPLATE = "s3://<bucket>/<key>?versionId=<versionId>&etag=<etag>&size=<size>"
# The workflow-input field that carries the event's identity to the envelope's claim.
SOURCE_EVENT_FIELD = "sourceEvent"


class TriggerError(ValueError):
    """An event, pattern or transformer that the trigger cannot handle; the message names the field."""


# --- what the deployed rule is ----------------------------------------------------------------
def event_pattern(config: DeploymentConfig, bucket_name: str) -> dict[str, Any]:
    """The EventBridge event pattern of the trigger rule: the input bucket and the key prefix.

    One matcher per field: EventBridge cannot AND two matchers on one field (see ``check_pattern``),
    so the rule checks the prefix and the workflow envelope checks the image suffix
    (``imgpipe.envelope``). The prefix is exact and compared with the key as S3 sends it
    (URL-encoded), so a prefix with a space still matches.
    """
    detail: dict[str, Any] = {"bucket": {"name": [bucket_name]}}
    if config.inputPrefix:
        detail["object"] = {"key": [{"prefix": encode_event_key(config.inputPrefix)}]}
    return {"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE], "detail": detail}


SOURCE_EVENT_TEMPLATE = {
    "bucket": "<bucket>",
    "key": "<key>",
    "versionId": "<versionId>",
    "sequencer": "<sequencer>",
}


def input_transformer(config: DeploymentConfig) -> dict[str, Any]:
    """The rule target's InputTransformer: the seeds' dynamic-fork input with the default recipe,
    ``fileLocation`` naming exactly the object version the event announces.

    Returned in the EventBridge API's shape (``InputPathsMap``, ``InputTemplate``).
    """
    recipe = config.defaultRecipe.model_dump(mode="json")
    workflow_input = {
        "fileLocation": FILE_LOCATION_TEMPLATE,
        **recipe,
        SOURCE_EVENT_FIELD: SOURCE_EVENT_TEMPLATE,
    }
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


# --- applying a rule to an event ----------------------------------------------------------------
# Operators whose EventBridge semantics moto's matcher reproduces and the tests pin; any other is refused.
SUPPORTED_OPERATORS = frozenset({"exists", "anything-but", "equals-ignore-case", "prefix", "suffix"})
ANYTHING_BUT_NESTED_OPERATORS = frozenset({"equals-ignore-case", "prefix", "suffix"})
OR_KEYWORD = "$or"


def check_pattern(pattern: Any) -> None:
    """Refuse a pattern that EventBridge would read differently from how it reads.

    Follows aws/event-ruler's ``JsonRuleCompiler`` (the matcher behind EventBridge): each ``$or``
    alternative forks a branch, and a field path written twice into one branch is refused by its
    strict mode ("Path `...` cannot be allowed multiple times") and silently replaced ("last one
    in wins") otherwise, e.g. a key prefix at the top level and a key suffix inside ``$or``.
    ``$or`` needs at least two objects; empty objects and arrays are refused, as there.
    """
    if not isinstance(pattern, Mapping) or not pattern:
        raise TriggerError("pattern: must be a non-empty object")
    _compile_object(pattern, (), [{}])


def _compile_object(node: Mapping[str, Any], path: tuple[str, ...], branches: list[dict[str, Any]]) -> None:
    if not node:
        raise TriggerError(f"pattern field {'.'.join(path) or '(root)'!r}: empty objects are not allowed")
    for field_name, expected in node.items():
        if field_name == OR_KEYWORD:
            where = ".".join(path) or "(root)"
            if not isinstance(expected, list) or len(expected) < 2:
                raise TriggerError(f"pattern {OR_KEYWORD} at {where!r}: must be a list of at least 2 objects")
            forked: list[dict[str, Any]] = []
            for alternative in expected:
                if not isinstance(alternative, Mapping):
                    raise TriggerError(f"pattern {OR_KEYWORD} at {where!r}: every alternative is an object")
                copies = [dict(branch) for branch in branches]
                _compile_object(alternative, path, copies)
                forked.extend(copies)
            branches[:] = forked
            continue
        field_path = (*path, field_name)
        dotted = ".".join(field_path)
        if isinstance(expected, Mapping):
            _compile_object(expected, field_path, branches)
        elif isinstance(expected, list):
            if not expected:
                raise TriggerError(f"pattern field {dotted!r}: empty arrays are not allowed")
            for flt in expected:
                _check_filter(flt, dotted)
            for branch in branches:
                if dotted in branch:
                    raise TriggerError(
                        f"pattern field {dotted!r}: matched twice in one branch (at the top level and "
                        f"inside {OR_KEYWORD}, or twice in one alternative); EventBridge cannot AND two "
                        "matchers on one field and would keep only the last one. Use one matcher per field."
                    )
                branch[dotted] = expected
        else:
            raise TriggerError(f"pattern field {dotted!r}: must be an object or a list of filters")


def _check_filter(flt: Any, field_name: str) -> None:
    if not isinstance(flt, Mapping):
        if isinstance(flt, (list, tuple)):
            raise TriggerError(f"pattern field {field_name!r}: a filter is a value or an object, not a list")
        return
    if len(flt) != 1:
        raise TriggerError(f"pattern field {field_name!r}: a filter object has exactly one operator")
    operator, operand = next(iter(flt.items()))
    if operator not in SUPPORTED_OPERATORS:
        raise TriggerError(f"pattern field {field_name!r}: operator {operator!r} is not supported")
    if operator == "exists" and not isinstance(operand, bool):
        raise TriggerError(f"pattern field {field_name!r}: exists takes true or false")
    if operator == "equals-ignore-case" and not isinstance(operand, str):
        raise TriggerError(f"pattern field {field_name!r}: equals-ignore-case needs a string")
    if operator in ("prefix", "suffix"):
        text = (
            operand.get("equals-ignore-case")
            if isinstance(operand, Mapping) and len(operand) == 1
            else operand
        )
        if not isinstance(text, str):
            raise TriggerError(f"pattern field {field_name!r}: {operator} needs a string")
    if operator == "anything-but":
        if isinstance(operand, Mapping):
            _check_excluded_pattern(operand, field_name)
        elif isinstance(operand, list):
            if not operand or not (
                all(isinstance(v, str) for v in operand)
                or all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in operand)
            ):
                raise TriggerError(
                    f"pattern field {field_name!r}: anything-but takes a non-empty list of all strings "
                    "or all numbers"
                )
        elif not isinstance(operand, (str, int, float)) or isinstance(operand, bool):
            raise TriggerError(f"pattern field {field_name!r}: anything-but takes a string or a number")


def _check_excluded_pattern(operand: Mapping[str, Any], field_name: str) -> None:
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


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches an EventBridge ``pattern``, as the deployed rule decides.

    ``check_pattern`` first refuses what EventBridge would read differently, then moto's EventBridge
    matcher decides (imported here, so CDK synth does not load moto).
    """
    check_pattern(pattern)
    from moto.events.models import EventPattern

    compiled = EventPattern.load(json.dumps(pattern))
    return bool(compiled.matches_event(dict(event)))  # type: ignore[arg-type]


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
