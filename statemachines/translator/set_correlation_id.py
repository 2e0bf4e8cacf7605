"""SET_CORRELATION_ID: the task input's `correlationId`, checked, as the task output.

Conductor (`core/execution/tasks/SetCorrelationId.java`) reads the input's `correlationId`; a value
that is missing, null, not a string or empty fails the task with a terminal error ("A non-empty
String value must be provided for 'correlationId'", FAILED_WITH_TERMINAL_ERROR: never retried); any
other sets the workflow's correlation id and completes with the output `{"correlationId": value}`.
Here a Pass resolves the input, a Choice checks it (a Fail `Conductor.InvalidCorrelationId`, recorded
as COMPLETED_WITH_ERRORS when the task is optional, as Conductor's decider does) and a Pass writes
the output. A Step Functions execution has no correlation id to set: `${workflow.correlationId}`
reads null here (expressions.py), which after this task differs from Conductor's value, so a
workflow that reads it and sets it is refused.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from statemachines.translator.asl_states import link
from statemachines.translator.expressions import path_of
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.task_states import optional_catch

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

INVALID_CORRELATION_ID = "Conductor.InvalidCorrelationId"
INVALID_CAUSE = "A non-empty String value must be provided for 'correlationId'"  # SetCorrelationId.java
READS_CORRELATION_ID = re.compile(r"\$\{\s*workflow\.correlationId\s*\}")


def emit_set_correlation_id(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    if READS_CORRELATION_ID.search(json.dumps(emitter.workflow.model_dump(mode="json"))):
        emitter.diagnostics.error(
            f"{site.location}.type",
            f"SET_CORRELATION_ID '{ref}': the workflow also reads ${{workflow.correlationId}}, which is "
            "null here (a Step Functions execution has no correlation id to set), not the value set",
        )
        return site.next_name
    after = ensure_outputs(emitter, ref, states, site.next_name)
    given = path_of(("tasks", ref, "input", "correlationId"))
    output = emitter.names.allocate(ref)
    states[output] = link(
        {
            "Type": "Pass",
            "Comment": "Conductor SET_CORRELATION_ID: output {correlationId}",
            "Parameters": {"correlationId.$": given},
            "ResultPath": path_of(("tasks", ref, "output")),
        },
        after,
    )
    fail = emitter.names.allocate(f"{ref}: invalid correlationId")
    if task.optional:
        states[fail] = {
            "Type": "Pass",
            "Parameters": {"Error": INVALID_CORRELATION_ID, "Cause": INVALID_CAUSE},
            "ResultPath": path_of(("tasks", ref, "failure")),
            "Next": optional_catch(emitter, ref, states, after)["Next"],
        }
    else:
        states[fail] = {"Type": "Fail", "Error": INVALID_CORRELATION_ID, "Cause": INVALID_CAUSE}
    check = emitter.names.allocate(f"{ref}: correlationId?")
    states[check] = {
        "Type": "Choice",
        "Choices": [  # in order: each rule reads only what the rules before it showed is there
            {"Not": {"Variable": given, "IsPresent": True}, "Next": fail},
            {"Not": {"Variable": given, "IsString": True}, "Next": fail},
            {"Variable": given, "StringEquals": "", "Next": fail},
        ],
        "Default": output,
    }
    resolve = emitter.names.allocate(f"{ref}: input")
    where = f"{site.location}.inputParameters"
    states[resolve] = {
        "Type": "Pass",
        "Comment": "Conductor SET_CORRELATION_ID: the resolved task input",
        "Parameters": emitter.analysis.parameters(task.inputParameters, where),
        "ResultPath": path_of(("tasks", ref, "input")),
        "Next": check,
    }
    return resolve
