"""Conductor's JSON_JQ_TRANSFORM: a jq query over the whole task input (`JsonJqTransform.java`).

The output is `{"result": first value or None, "resultList": every value}`; a missing query, one
that does not compile or one that fails on the input raises JqTransformError (non-retryable: the
same input fails the same way).
"""

from __future__ import annotations

from typing import Any

import jq

from lambdas.core.errors import WorkerError

QUERY_FIELD = "queryExpression"


class JqTransformError(WorkerError):
    """The jq query is missing, does not compile, or fails on this input."""


def transform(task_input: dict[str, Any]) -> dict[str, Any]:
    query = task_input.get(QUERY_FIELD)
    if not isinstance(query, str):
        raise JqTransformError(QUERY_FIELD, f"must be a jq program (a string), got {type(query).__name__}")
    try:
        program = jq.compile(query)
    except ValueError as error:
        raise JqTransformError(QUERY_FIELD, f"does not compile: {error}") from None
    try:
        values = program.input_value(task_input).all()
    except ValueError as error:
        raise JqTransformError(QUERY_FIELD, f"failed on the task input: {error}") from None
    return {"result": values[0] if values else None, "resultList": values}
