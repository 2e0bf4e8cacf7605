"""INLINE and LAMBDA: Conductor's script tasks, `{"result": value}` where Conductor puts it.

Conductor (`Inline.java`, `Lambda.java`) evaluates the script with `$` bound to the task's resolved
input (`evaluatorType`, `expression` or `scriptExpression` included) and outputs `result`; a script
that fails, or a missing script, fails the task. A LAMBDA script is a function body: Conductor
wraps it as `function scriptFun(){...} scriptFun();`, and so does the translator.

`evaluatorType` value-param needs no script: `result` is the input named by `expression`
(`ValueParamEvaluator`), a Pass state. javascript and graaljs run in the javascript_evaluator
worker (script_evaluation.py); any other evaluator is refused by name. An INLINE script with
`${...}` inside its text goes to the worker in pieces, which it splices as Conductor does (each
value's Java string form: lambdas/javascript_evaluator/splicing.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import link
from statemachines.translator.control_flow import SCRIPT_EVALUATORS
from statemachines.translator.expressions import EXPRESSION, Path
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.script_evaluation import evaluation_state, script_value, spliced_script_parts
from statemachines.translator.task_states import optional_catch

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.emitter_state import EmitterState
    from statemachines.translator.registry import EmitSite

VALUE_PARAM = "value-param"


def emit_inline(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task = site.task
    ref, inputs = task.taskReferenceName, task.inputParameters
    where = f"{site.location}.inputParameters"
    evaluator, expression = inputs.get("evaluatorType"), inputs.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        emitter.diagnostics.error(
            f"{where}.expression", f"INLINE '{ref}' has no expression: Conductor fails such a task"
        )
        return site.next_name
    if evaluator == VALUE_PARAM:
        return _emit_value_param(emitter, site, expression)
    if evaluator not in SCRIPT_EVALUATORS:
        emitter.diagnostics.error(
            f"{where}.evaluatorType",
            f"INLINE '{ref}' uses evaluatorType {evaluator!r}: javascript, graaljs and value-param are "
            "translated",
        )
        return site.next_name
    if spliced_script_parts(task) is None:
        bound = emitter.analysis.parameters(inputs, where)
        script = script_value(bound, "expression")
    else:
        # Conductor splices each value's Java string form into the text: the worker does
        splice = _splice(emitter, expression, where, ref)
        if splice is None:
            return site.next_name
        script = {"splice": splice}
        bound = emitter.analysis.parameters({k: v for k, v in inputs.items() if k != "expression"}, where)
    return _emit_script_task(
        emitter, site, field="inputParameters.expression", script=script, bound=bound, kind="INLINE"
    )


def emit_lambda(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task = site.task
    ref, inputs = task.taskReferenceName, task.inputParameters
    where = f"{site.location}.inputParameters"
    body = inputs.get("scriptExpression")
    if not isinstance(body, str) or not body.strip():
        emitter.diagnostics.error(
            f"{where}.scriptExpression",
            f"LAMBDA '{ref}' has no scriptExpression: Conductor fails such a task",
        )
        return site.next_name
    bound = emitter.analysis.parameters(inputs, where)
    if "scriptExpression" not in bound:
        emitter.diagnostics.error(
            f"{where}.scriptExpression",
            f"LAMBDA '{ref}': a scriptExpression built from ${{...}} expressions is not translated",
        )
        return site.next_name
    script = {"script": f"function scriptFun(){{{bound['scriptExpression']}}} scriptFun();"}
    return _emit_script_task(
        emitter, site, field="inputParameters.scriptExpression", script=script, bound=bound, kind="LAMBDA"
    )


def _emit_script_task(
    emitter: WorkflowEmitter,
    site: EmitSite,
    *,
    field: str,
    script: dict[str, Any],
    bound: dict[str, Any],
    kind: str,
) -> str:
    ref, states = site.task.taskReferenceName, site.states
    after = ensure_outputs(emitter, ref, states, site.next_name)
    state, policy = evaluation_state(
        emitter,
        ref=ref,
        field=field,
        script=script,
        bound=bound,
        result_path=f"$.tasks.{ref}",
        location=site.location,
        comment=f"Conductor {kind}: {{result}} of the script with $ bound to the task input",
    )
    if site.task.optional:
        state["Catch"] = [optional_catch(emitter, ref, states, after, errors=policy.optional_catch_errors)]
    name = emitter.names.allocate(ref)
    states[name] = link(state, after)
    return name


def _splice(emitter: WorkflowEmitter, text: str, inputs_location: str, ref: str) -> dict[str, Any] | None:
    """`{pieces, values, into}` of a script with `${...}` inside its text: the literal pieces and the
    value of each expression, keyed "0", "1", ... (a `$${` is the value "$${": Conductor unescapes
    the spliced text as a whole).
    A whole task output or input, `${workflow.input}` or `${workflow.variables}` is refused: Conductor
    holds those maps as HashMaps, whose key order in the spliced text is not the JSON's."""
    pieces: list[str] = [""]
    values: dict[str, Any] = {}
    position = 0
    for match in EXPRESSION.finditer(text):
        pieces[-1] += text[position : match.start()]
        position = match.end()
        path = match.group(1)
        if path is None:  # `$${`, as a value: in a piece, `${x}` would read as a CDK substitution
            values[str(len(values))] = match.group(0)
            pieces.append("")
            continue
        if not path.strip():
            continue  # Conductor replaces a blank `${}` with ""
        if re.fullmatch(r"\s*[^.\[\]]+\.(input|output|variables)\s*", path):
            emitter.diagnostics.error(
                f"{inputs_location}.expression",
                f"INLINE '{ref}': '${{{path}}}' inside the script text is a whole map, which Conductor "
                "splices in its HashMap's key order; splice its fields, or pass it as an inputParameter",
            )
            return None
        resolved = emitter.analysis.value(match.group(0), f"{inputs_location}.expression@{match.start()}")
        if resolved is None:
            return None
        key = str(len(values))
        if isinstance(resolved, Path):
            values[f"{key}.$"] = resolved.asl
        else:
            values[key] = resolved.value
        pieces.append("")
    pieces[-1] += text[position:]
    return {"pieces": pieces, "values": values, "into": "expression"}


def _emit_value_param(emitter: WorkflowEmitter, site: EmitSite, key: str) -> str | None:
    """`result` is the task input named by `expression` (null when there is none)."""
    task, states = site.task, site.states
    ref = task.taskReferenceName
    # Parameters of {"result": <that input>}: a literal, a path, or an object of either
    output = emitter.analysis.entry(
        "result", task.inputParameters.get(key), f"{site.location}.inputParameters.{key}"
    )
    after = ensure_outputs(emitter, ref, states, site.next_name)
    name = emitter.names.allocate(ref)
    states[name] = link(
        {
            "Type": "Pass",
            "Comment": "Conductor INLINE value-param: result is the input named by expression",
            "Parameters": {"output": output},
            "ResultPath": f"$.tasks.{ref}",
        },
        after,
    )
    return name


def forked_inline_state(emitter: EmitterState, ref: str, location: str) -> dict[str, Any]:
    """A dynamic fork's INLINE item: the item is the task's input, `evaluatorType` and `expression`
    included (ForkJoinDynamicTaskMapper.getDynamicTasksSimple), known only at run time; the worker
    checks and runs them as `Inline.java` does. Its `{"result": value}` goes to `$.result.output`."""
    state, _ = evaluation_state(
        emitter,
        ref=ref,
        field="inputParameters.expression",
        script={"inline_input": True},
        bound="$.item",
        result_path="$.result",
        location=location,
        comment="Conductor INLINE forked by a dynamic fork: {result} of the item's expression, $ the item",
    )
    return state
