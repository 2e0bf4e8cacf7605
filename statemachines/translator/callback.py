"""HUMAN, and WAIT without `duration`/`until`: a task that waits until someone completes it.

Conductor keeps such a task IN_PROGRESS until its output is posted through the task API
(`tasks/Human.java`; `WaitTaskMapper.setCallbackAfter`: no duration "should wait forever"). Here the
Task state waits for its task token (`.waitForTaskToken`). The token is announced once, in an
EventBridge event on the account's default bus (a rule can route it to whoever completes the task),
and it is kept where the execution already keeps its data: the TaskScheduled event of the history,
whose `parameters` hold the event detail. `imgpipe complete TASK_REF --execution ARN --output JSON`
and Conductor's task update API (`POST /api/tasks`) find it there and call SendTaskSuccess; the
output becomes the task's output, as in Conductor. The contract's names are lambdas/conductor/callbacks.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lambdas.conductor.callbacks import CALLBACK_RESOURCE, EVENT_SOURCE, WAITING_DETAIL_TYPE
from statemachines.translator.asl_states import link, task_states
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.task_states import optional_catch

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

__all__ = ["CALLBACK_RESOURCE", "EVENT_SOURCE", "WAITING_DETAIL_TYPE", "emit_callback", "waiting_task_refs"]


def emit_callback(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    """A Pass that keeps the task's input, then the Task state that waits for its token."""
    task, states = site.task, site.states
    ref = task.taskReferenceName
    after = ensure_outputs(emitter, ref, states, site.next_name)
    params = emitter.analysis.parameters(task.inputParameters, f"{site.location}.inputParameters")
    detail = {
        "taskReferenceName": ref,
        "taskType": task.type,
        "workflowType": emitter.workflow.name,
        "workflowId.$": "$$.Execution.Name",
        "executionArn.$": "$$.Execution.Id",
        "taskToken.$": "$$.Task.Token",
        "input.$": f"$.tasks.{ref}.input",
    }
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": f"Conductor {task.type}: waits until `imgpipe complete {ref}` (SendTaskSuccess) "
        "gives its output",
        "Resource": CALLBACK_RESOURCE,
        "Parameters": {
            "Entries": [{"Source": EVENT_SOURCE, "DetailType": WAITING_DETAIL_TYPE, "Detail": detail}]
        },
        "ResultPath": f"$.tasks.{ref}.output",
    }
    if task.optional:
        state["Catch"] = [optional_catch(emitter, ref, states, after)]
    waiting = emitter.names.allocate(ref)
    states[waiting] = link(state, after)
    keep = emitter.names.allocate(f"{ref}: input")
    states[keep] = {
        "Type": "Pass",
        "Comment": f"Conductor {task.type}: its input, announced with the task token",
        "Parameters": params,
        "ResultPath": f"$.tasks.{ref}.input",
        "Next": waiting,
    }
    return keep


def waiting_task_refs(asl: Mapping[str, Any]) -> list[str]:
    """The references of the tasks in a translation that wait to be completed from outside."""
    return [
        entry["Detail"]["taskReferenceName"]
        for state in task_states(asl)
        if state["Resource"] == CALLBACK_RESOURCE
        for entry in state["Parameters"]["Entries"]
    ]
