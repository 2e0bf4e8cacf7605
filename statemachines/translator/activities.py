"""SIMPLE tasks that no imgpipe Lambda worker serves: Step Functions activities.

An activity is Conductor's polling-worker model: the state machine schedules a task, a worker anywhere
polls for it (GetActivityTask), works and reports (SendTaskSuccess / SendTaskFailure), heartbeating
(SendTaskHeartbeat) while it runs; `imgpipe.worker` is such a worker. The task runs under the
definition Conductor would give it (`task_definitions.governing_task_def`: inline, registered, or
Conductor's default), whose policy is `retries.task_policy(..., heartbeats=True)`:
`responseTimeoutSeconds` -> `HeartbeatSeconds` (a worker silent that long fails the attempt, which is
retried), `timeoutSeconds` -> `TimeoutSeconds`, the Conductor retrier, no Lambda retriers. This module
adds what is particular to activities:

- a `HeartbeatSeconds` without `TimeoutSeconds` comes with `TimeoutSeconds` 99999999, the value AWS
  documents as the default (moto's engine defaults to 60 s when only a heartbeat is set, so Conductor's
  default definition, 3600 s response timeout and no task timeout, would time out there after a minute);
- `pollTimeoutSeconds` is warned in an activity's words.

The `Resource` is the placeholder `${ActivityArn_<task name>}`, filled like the Lambda ARNs by CDK
(`infra/activities.py`) and the local runtime; the worker's output becomes the task's `output`.
Express workflows cannot run activities, so a workflow with one is Standard-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.retries import task_policy
from statemachines.translator.task_definitions import GoverningTaskDef

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter

ACTIVITY_PLACEHOLDER_PREFIX = "ActivityArn_"
# ASL's largest TimeoutSeconds, and what Step Functions assumes when a Task state sets none:
# https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html ("TimeoutSeconds")
ASL_MAX_TIMEOUT_SECONDS = 99_999_999


def activity_placeholder(task_name: str) -> str:
    """The definition-substitution key of a task's activity ARN."""
    return f"{ACTIVITY_PLACEHOLDER_PREFIX}{task_name}"


def served_by_lambda(emitter: WorkflowEmitter, task_name: str) -> bool:
    workers = emitter.options.lambda_workers
    return workers is None or task_name in workers


def activity_state(
    emitter: WorkflowEmitter,
    task_name: str,
    payload: dict[str, Any] | str,
    governing: GoverningTaskDef,
    sink: Diagnostics,
    *,
    input_template: bool = False,
) -> dict[str, Any]:
    """`payload`: the Parameters object, or a JSONPath selecting the input (InputPath); `governing`
    and `sink`: the definition the task runs under and where its findings go
    (`task_states._worker_definition`);
    `input_template`: the caller merged the definition's inputTemplate into the input."""
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": f"Conductor SIMPLE task '{task_name}': a polling worker (Step Functions activity)",
        "Resource": f"${{{activity_placeholder(task_name)}}}",
    }
    if isinstance(payload, str):
        state["InputPath"] = payload
    else:
        state["Parameters"] = payload
    state["ResultSelector"] = {"output.$": "$"}
    collected = Diagnostics(emitter.workflow.name)
    policy = task_policy(
        governing.task_def,
        emitter.options,
        collected,
        governing.location,
        heartbeats=True,
        input_template=input_template,
    )
    poll = f"{governing.location}.pollTimeoutSeconds"
    sink.items.extend(d for d in collected.items if d.location != poll)
    if governing.task_def.pollTimeoutSeconds:
        sink.warning(
            poll,
            "Step Functions has no time limit for an activity task to be polled: ignored "
            "(TimeoutSeconds starts when a worker takes the task)",
        )
    state.update(policy.fields)
    if "HeartbeatSeconds" in state and "TimeoutSeconds" not in state:
        state["TimeoutSeconds"] = ASL_MAX_TIMEOUT_SECONDS
    emitter.last_catch_errors = policy.optional_catch_errors
    return state
