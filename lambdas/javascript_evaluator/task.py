"""One evaluation request from a translated workflow: which task, which field, the script and `$`.

The translator (statemachines/translator/javascript.py) sends `{"task", "field", "script", "input"}`
and reads `{"result": value}`, Conductor's INLINE/LAMBDA output; conditions read the same result.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from lambdas.javascript_evaluator.evaluator import ScriptError, evaluate
from lambdas.settings import JavaScriptSettings


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str  # the Conductor taskReferenceName, named in every error
    field: str  # where the script is in the task, e.g. inputParameters.expression
    script: str
    input: Any = None  # what `$` is bound to: the task's resolved input


def evaluate_request(event: Any, settings: JavaScriptSettings) -> dict[str, Any]:
    try:
        request = EvaluationRequest.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "event"
        task = event.get("task") if isinstance(event, dict) and isinstance(event.get("task"), str) else "?"
        raise ScriptError(f"{task}.{where}", first["msg"]) from None
    field = f"{request.task}.{request.field}"
    return {"result": evaluate(request.script, request.input, settings, field=field)}
