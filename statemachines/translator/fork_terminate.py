"""TERMINATE (COMPLETED) inside a FORK_JOIN branch: it ends the whole workflow, as in Conductor.

Conductor's Terminate task completes the workflow with its `workflowOutput` wherever it runs; the
other branches are cancelled. A Parallel branch cannot end the execution with an output, so the
output (Conductor's shape, control_flow.py) is computed in the branch and carried out of the
Parallel as the cause of a Fail state with the error `Conductor.TerminatedCompleted`
(`CausePath: States.JsonToString(...)`; the Fail state accepts intrinsic functions there:
https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html). The outermost Parallel catches
that error and ends the execution with the output read back (`States.StringToJson`). A failing
branch stops the other branches, as Conductor cancels them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from statemachines.translator.model import WorkflowTask

if TYPE_CHECKING:
    from statemachines.translator.emitter_state import EmitterState

TERMINATED_COMPLETED = "Conductor.TerminatedCompleted"
OUTPUT_PATH = "$.terminatedOutput"


def terminates_completed(tasks: Iterable[WorkflowTask]) -> bool:
    """Whether a TERMINATE with terminationStatus COMPLETED is among `tasks`, at any depth."""
    for task in tasks:
        if task.type == "TERMINATE" and task.inputParameters.get("terminationStatus") == "COMPLETED":
            return True
        if any(terminates_completed(children) for children in task.children()):
            return True
    return False


def carry_out_of_branch(emitter: EmitterState, ref: str, output_states: dict[str, Any]) -> dict[str, Any]:
    """The workflow-output states of a TERMINATE, changed to end in the Fail that carries the output
    out of the Parallel instead of ending the execution."""
    fail = emitter.names.allocate(f"{ref}: end the workflow")
    carried: dict[str, Any] = {
        fail: {
            "Type": "Fail",
            "Comment": "Conductor TERMINATE (COMPLETED) in a fork branch: the workflow output, carried out",
            "Error": TERMINATED_COMPLETED,
            "CausePath": f"States.JsonToString({OUTPUT_PATH})",
        }
    }
    for name, state in output_states.items():
        ends = state.pop("End", False)
        carried[name] = {**state, "ResultPath": OUTPUT_PATH, "Next": fail} if ends else state
    return carried


def catch_terminated(emitter: EmitterState, ref: str, states: dict[str, Any]) -> dict[str, Any]:
    """The outermost Parallel's Catch: the carried output becomes the execution's output."""
    end = emitter.names.allocate(f"{ref}: terminated")
    states[end] = {
        "Type": "Pass",
        "Comment": "Conductor TERMINATE (COMPLETED) in a branch ended the workflow: its output",
        "Parameters": {"output.$": "States.StringToJson($.terminated.Cause)"},
        "OutputPath": "$.output",
        "End": True,
    }
    return {"ErrorEquals": [TERMINATED_COMPLETED], "ResultPath": "$.terminated", "Next": end}
