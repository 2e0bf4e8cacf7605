"""JSON_JQ_TRANSFORM: the task input, `queryExpression` included, run through jq by a worker.

Conductor (`contribs/tasks/json/JsonJqTransform.java`) applies the query to the whole task input
and outputs `result` (the first value, or null) and `resultList` (every value); a query that fails
fails the task. Here the `json_jq_transform` worker Lambda does the same with libjq (PyPI `jq`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import LAMBDA_INVOKE, link
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import TaskDef
from statemachines.translator.retries import task_policy
from statemachines.translator.task_states import optional_catch

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

JQ_WORKER = "json_jq_transform"
# A jq program may loop forever; Conductor has no bound, a Lambda needs one (its timeout follows).
JQ_TIMEOUT_SECONDS = 30
# A failed query is deterministic: never retried (Conductor's task fails); throttles still are.
JQ_POLICY = TaskDef.model_validate(
    {"name": JQ_WORKER, "retryCount": 0, "timeoutSeconds": JQ_TIMEOUT_SECONDS, "timeoutPolicy": "TIME_OUT_WF"}
)


def emit_jq_transform(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    where = f"{site.location}.inputParameters"
    if "queryExpression" not in task.inputParameters:
        emitter.diagnostics.error(
            where, f"JSON_JQ_TRANSFORM '{ref}' has no queryExpression: Conductor fails such a task"
        )
        return site.next_name
    after = ensure_outputs(emitter, ref, states, site.next_name)
    params = emitter.analysis.parameters(task.inputParameters, where)
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": "Conductor JSON_JQ_TRANSFORM: {result, resultList} of the query on the task input",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": f"${{LambdaArn_{JQ_WORKER}}}", "Payload": params},
        "ResultSelector": {"output.$": "$.Payload"},
        "ResultPath": f"$.tasks.{ref}",
    }
    policy = task_policy(JQ_POLICY, emitter.options, emitter.policy_findings(None), f"{site.location}")
    state.update(policy.fields)
    if task.optional:
        state["Catch"] = [optional_catch(emitter, ref, states, after, errors=policy.optional_catch_errors)]
    name = emitter.names.allocate(ref)
    states[name] = link(state, after)
    return name
