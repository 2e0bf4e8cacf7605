"""One evaluation request from a translated workflow: which task, which field, the script and `$`.

The translator (statemachines/translator/javascript.py) sends `{"task", "field", "script", "input"}`
and reads `{"result": value}`, Conductor's INLINE/LAMBDA output; conditions read the same result. A
script whose text holds `${...}` comes as `splice` instead of `script`: its literal pieces and the
values between them (`{"0": v0, "1": v1, ...}`, the form ASL Parameters can write), joined as
Conductor joins them (splicing.py) and written into `input[splice.into]` too, as Conductor's task
input holds the spliced text.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from lambdas.javascript_evaluator.evaluator import ScriptError, evaluate
from lambdas.javascript_evaluator.splicing import spliced
from lambdas.settings import JavaScriptSettings

# Conductor's INLINE evaluators (the translator refuses the others for a literal evaluatorType)
INLINE_SCRIPT_EVALUATORS = ("javascript", "graaljs")
VALUE_PARAM = "value-param"


class Splice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pieces: list[str]  # the literal text around the values, `$${` kept (Conductor unescapes it last)
    values: dict[str, Any]  # "0", "1", ...: the value of each `${...}`, in order
    into: str | None = None  # the input key that holds the script (INLINE's `expression`)


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str  # the Conductor taskReferenceName, named in every error
    field: str  # where the script is in the task, e.g. inputParameters.expression
    script: str | None = None
    splice: Splice | None = None
    input: Any = None  # what `$` is bound to: the task's resolved input
    # the script is the input's `expression`, run by its `evaluatorType` as Conductor's INLINE runs it
    # (a dynamic fork's INLINE item, whose input is only known at run time)
    inline_input: bool = False

    def text(self) -> str:
        """The script, spliced when it comes in pieces."""
        if (self.script is None) == (self.splice is None):
            raise ScriptError(f"{self.task}.script", "give either a script or its splice")
        if self.splice is None:
            return str(self.script)
        values = self.splice.values
        if sorted(values) != [str(index) for index in range(len(values))]:
            raise ScriptError(f"{self.task}.{self.field}", "splice values must be keyed 0, 1, ...")
        try:
            return spliced(self.splice.pieces, [values[str(index)] for index in range(len(values))])
        except (TypeError, ValueError) as error:
            raise ScriptError(f"{self.task}.{self.field}", str(error)) from None


def evaluate_request(event: Any, settings: JavaScriptSettings) -> dict[str, Any]:
    try:
        request = EvaluationRequest.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "event"
        task = event.get("task") if isinstance(event, dict) and isinstance(event.get("task"), str) else "?"
        raise ScriptError(f"{task}.{where}", first["msg"]) from None
    field = f"{request.task}.{request.field}"
    if request.inline_input:
        return {"result": _run_inline(request, settings)}
    script = request.text()
    bound = request.input
    if request.splice is not None and request.splice.into is not None and isinstance(bound, dict):
        bound = {**bound, request.splice.into: script}
    return {"result": evaluate(script, bound, settings, field=field)}


def _run_inline(request: EvaluationRequest, settings: JavaScriptSettings) -> Any:
    """`Inline.java`: the evaluator named by `evaluatorType` (checked first), then `expression`;
    value-param's result is the input it names (`ValueParamEvaluator`)."""
    bound = request.input if isinstance(request.input, dict) else {}
    evaluator, expression = bound.get("evaluatorType"), bound.get("expression")
    if not isinstance(evaluator, str) or not evaluator.strip():
        raise ScriptError(
            f"{request.task}.evaluatorType",
            "Empty 'evaluatorType': a non-empty String value must be provided",
        )
    if evaluator not in (*INLINE_SCRIPT_EVALUATORS, VALUE_PARAM):
        raise ScriptError(f"{request.task}.evaluatorType", f"Unknown evaluator '{evaluator}'")
    if not isinstance(expression, str) or not expression.strip():
        raise ScriptError(
            f"{request.task}.expression", "Empty 'expression': a non-empty String value must be provided"
        )
    if evaluator == VALUE_PARAM:
        return bound.get(expression)
    return evaluate(expression, bound, settings, field=f"{request.task}.{request.field}")
