"""The Task state that runs Conductor JavaScript in the `javascript_evaluator` worker Lambda.

INLINE and LAMBDA tasks (javascript.py) and the script conditions the lark subset cannot express
(SWITCH/DECISION expressions, DO_WHILE loop conditions) all send `{task, field, script, input}`: the
task reference and field name the script in any error, `input` is what Conductor binds to `$`. The
worker answers `{"result": value}` (lambdas/javascript_evaluator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import LAMBDA_INVOKE
from statemachines.translator.expressions import EXPRESSION, NESTED_EXPRESSION
from statemachines.translator.model import TaskDef, WorkflowTask
from statemachines.translator.retries import TaskPolicy, task_policy

if TYPE_CHECKING:
    from statemachines.translator.emitter_state import EmitterState

JAVASCRIPT_WORKER = "javascript_evaluator"
# The worker stops a script after its own limit (JavaScriptSettings.javascript_timeout_ms, 5 s); the state's
# timeout leaves room for a cold start on top of it.
JAVASCRIPT_TIMEOUT_SECONDS = 30
# A failing script fails the same way again: never retried (Conductor's task FAILS); throttles still are.
JAVASCRIPT_POLICY = TaskDef.model_validate(
    {
        "name": JAVASCRIPT_WORKER,
        "retryCount": 0,
        "timeoutSeconds": JAVASCRIPT_TIMEOUT_SECONDS,
        "timeoutPolicy": "TIME_OUT_WF",
    }
)


def spliced_script_parts(task: WorkflowTask) -> dict[str, str] | None:
    """The `${...}` an INLINE script's text holds beside other text, by the location each is
    resolved at (`<task>.inputParameters.expression@<offset>`): Conductor splices their values into
    the text (javascript.py); None for any other task or script (a literal, one whole expression,
    value-param's input name, or a nested expression, which is refused as any value is)."""
    text = task.inputParameters.get("expression")
    if task.type != "INLINE" or task.inputParameters.get("evaluatorType") == "value-param":
        return None
    if not isinstance(text, str) or NESTED_EXPRESSION.search(text):
        return None
    found = [m for m in EXPRESSION.finditer(text) if m.group(1) is not None]
    if not found or (len(found) == 1 and found[0].span() == (0, len(text))):
        return None
    return {f"expression@{m.start()}": m.group(0) for m in found if m.group(1).strip()}


def script_value(resolved: dict[str, Any], key: str) -> dict[str, Any]:
    """The script field of the request from a resolved Parameters object: literal or `.$` path."""
    if f"{key}.$" in resolved:
        return {"script.$": resolved[f"{key}.$"]}
    return {"script": resolved.get(key)}


def evaluation_state(
    emitter: EmitterState,
    *,
    ref: str,
    field: str,
    script: dict[str, Any],
    bound: dict[str, Any] | str,
    result_path: str,
    location: str,
    comment: str,
) -> tuple[dict[str, Any], TaskPolicy]:
    """A Lambda Task state evaluating `script` with `$` bound to `bound` (a Parameters object, or a
    path of the context); its `{"result": ...}` goes to `result_path` under the key `output`. The
    policy says what an optional task's Catch may catch."""
    payload = {"task": ref, "field": field, **script}
    payload |= {"input.$": bound} if isinstance(bound, str) else {"input": bound}
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": comment,
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": f"${{LambdaArn_{JAVASCRIPT_WORKER}}}", "Payload": payload},
        "ResultSelector": {"output.$": "$.Payload"},
        "ResultPath": result_path,
    }
    policy = task_policy(JAVASCRIPT_POLICY, emitter.options, emitter.policy_findings(None), location)
    state.update(policy.fields)
    return state, policy
