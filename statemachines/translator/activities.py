"""SIMPLE tasks that no imgpipe Lambda worker serves: Step Functions activities.

An activity is Conductor's polling-worker model: the state machine schedules a task, a worker anywhere
polls for it (GetActivityTask), works and reports (SendTaskSuccess / SendTaskFailure), heartbeating
(SendTaskHeartbeat) while it runs; `imgpipe.worker` is such a worker. The task definition's policy
(registered, or Conductor's default) becomes the state's fields:

- `responseTimeoutSeconds` -> `HeartbeatSeconds`: a worker silent for that long fails the attempt with
  `States.Timeout`, as Conductor times out a task whose worker stops updating it;
- `timeoutSeconds` -> `TimeoutSeconds` (the whole attempt). Without one, `HeartbeatSeconds` comes with
  `TimeoutSeconds` 99999999, the value AWS documents as the default (moto defaults to 60 s instead);
- Retry from `retries.task_policy` (the Conductor retrier, the non-retryable worker errors), without
  its Lambda service and throttle retriers, which an activity never raises.

The `Resource` is the placeholder `${ActivityArn_<task name>}`, filled like the Lambda ARNs by CDK
(`infra/activities.py`) and the local runtime; the worker's output becomes the task's `output`.
Express workflows cannot run activities, so a workflow with one is Standard-only.
"""

from __future__ import annotations

from typing import Any

from statemachines.translator.asl_states import PLACEHOLDER_NAME
from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.emitter_state import EmitterState
from statemachines.translator.retries import task_policy

ACTIVITY_PLACEHOLDER_PREFIX = "ActivityArn_"
# ASL's largest TimeoutSeconds, and what Step Functions assumes when a Task state sets none:
# https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html ("TimeoutSeconds")
ASL_MAX_TIMEOUT_SECONDS = 99_999_999
# task_policy findings about Lambda invokes that do not hold for a polled worker: this module maps
# responseTimeoutSeconds itself and words the pollTimeoutSeconds finding for activities
_LAMBDA_ONLY_FINDINGS = (".responseTimeoutSeconds", ".pollTimeoutSeconds")


def activity_placeholder(task_name: str) -> str:
    """The definition-substitution key of a task's activity ARN."""
    return f"{ACTIVITY_PLACEHOLDER_PREFIX}{task_name}"


def _is_lambda_retrier(retrier: dict[str, Any]) -> bool:
    errors = retrier.get("ErrorEquals", [])
    return bool(errors) and all(str(error).startswith("Lambda.") for error in errors)


class ActivityTaskMixin(EmitterState):
    """The Task state of a SIMPLE task served by a polling worker (a Step Functions activity)."""

    def _served_by_lambda(self, task_name: str) -> bool:
        workers = self.options.lambda_workers
        return workers is None or task_name in workers

    def _activity_state(self, task_name: str, location: str, payload: dict[str, Any] | str) -> dict[str, Any]:
        """`payload`: the Parameters object, or a JSONPath selecting the input (InputPath)."""
        task_def = self._task_def(task_name, location)
        if not PLACEHOLDER_NAME.match(task_name):
            self.diagnostics.error(location, f"task name '{task_name}' cannot be part of a placeholder")
        self.result.activity_tasks.add(task_name)
        # task-definition findings are reported once per workflow, at the task definition
        sink = self.diagnostics if task_name not in self.policy_warned else self.quiet
        self.policy_warned.add(task_name)
        where = f"taskDefs.{task_name}"
        collected = Diagnostics(self.workflow.name)
        policy = task_policy(task_def, self.options, collected, where)
        sink.items.extend(d for d in collected.items if not d.location.endswith(_LAMBDA_ONLY_FINDINGS))
        if task_def.pollTimeoutSeconds:
            sink.warning(
                f"{where}.pollTimeoutSeconds",
                "Step Functions has no time limit for an activity task to be polled: ignored "
                "(TimeoutSeconds starts when a worker takes the task)",
            )
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
        timeout = policy.get("TimeoutSeconds")
        heartbeat = task_def.responseTimeoutSeconds or None
        if heartbeat is not None and timeout is not None and heartbeat >= timeout:
            sink.warning(
                f"{where}.responseTimeoutSeconds",
                f"not below timeoutSeconds ({timeout} s): no HeartbeatSeconds, the task timeout covers it",
            )
            heartbeat = None
        if heartbeat is not None:
            state["HeartbeatSeconds"] = heartbeat
            state["TimeoutSeconds"] = timeout or ASL_MAX_TIMEOUT_SECONDS
        elif timeout is not None:
            state["TimeoutSeconds"] = timeout
        state["Retry"] = [r for r in policy.get("Retry", []) if not _is_lambda_retrier(r)]
        return state
