"""Conductor task type -> its translation: the emit function, the diagram shape, what its output is.

A new task type is one module with an emit function, `emit(emitter, site: EmitSite) -> the name
of its first state`, plus one line in `TASK_TYPES`. A type that is not listed, or is listed as
`refused(...)`, is an error diagnostic naming the task reference, the type and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from statemachines.translator.callback import emit_callback
from statemachines.translator.control_flow import emit_set_variable, emit_switch, emit_terminate
from statemachines.translator.do_while import emit_do_while
from statemachines.translator.dynamic_fork import emit_dynamic_fork
from statemachines.translator.dynamic_task import emit_dynamic
from statemachines.translator.event import emit_event
from statemachines.translator.exclusive_join import emit_exclusive_join
from statemachines.translator.fork import emit_fork
from statemachines.translator.http import emit_http
from statemachines.translator.javascript import emit_inline, emit_lambda
from statemachines.translator.jq_transform import emit_jq_transform
from statemachines.translator.model import WorkflowTask
from statemachines.translator.noop import emit_noop
from statemachines.translator.permissive import emit_permissive
from statemachines.translator.set_correlation_id import emit_set_correlation_id
from statemachines.translator.start_workflow import emit_start_workflow
from statemachines.translator.sub_workflow import emit_sub_workflow
from statemachines.translator.task_states import emit_worker_task
from statemachines.translator.wait import emit_wait, wait_output

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter


@dataclass(frozen=True)
class EmitSite:
    """Where one task is emitted. States are emitted back to front (emitter.py): `next_name` is the
    state that follows (None at the end of a branch), and the emit function returns its first state."""

    task: WorkflowTask
    join: WorkflowTask | None  # the JOIN that follows a fork; None for every other type
    location: str  # the task's JSON path in the definition, for diagnostics
    states: dict[str, Any]
    next_name: str | None


Emit = Callable[["WorkflowEmitter", EmitSite], "str | None"]
# What the task leaves as its output when it is the last one of a workflow without outputParameters:
# "task": its own output; "empty": {} (Conductor system tasks that write nothing); "self": it picks
# the output itself (the last task of the route taken, or the execution ends in it).
Output = Literal["task", "empty", "self"]

BOX = ("[", "]")
HEXAGON = ("{{", "}}")
RHOMBUS = ("{", "}")
SUBROUTINE = ("[[", "]]")
STADIUM = ("([", "])")
ROUNDED = ("(", ")")
PARALLELOGRAM = ("[/", "/]")
FLAG = (">", "]")


@dataclass(frozen=True)
class TaskType:
    emit: Emit | None
    shape: tuple[str, str] = BOX
    output: Output | Callable[[WorkflowTask], Output] = "task"
    refused: str = "this task type has no Step Functions translation"

    def output_of(self, task: WorkflowTask) -> Output:
        return self.output(task) if callable(self.output) else self.output


def refused(reason: str, shape: tuple[str, str] = BOX) -> TaskType:
    return TaskType(None, shape, refused=reason)


TASK_TYPES: dict[str, TaskType] = {
    "SIMPLE": TaskType(emit_worker_task),
    "PERMISSIVE": TaskType(emit_permissive),
    "SUB_WORKFLOW": TaskType(emit_sub_workflow, SUBROUTINE),
    "FORK_JOIN": TaskType(emit_fork, HEXAGON),
    "FORK_JOIN_DYNAMIC": TaskType(emit_dynamic_fork, HEXAGON),
    "JOIN": refused("a JOIN is translated with the fork it follows", HEXAGON),
    "SWITCH": TaskType(emit_switch, RHOMBUS, "self"),
    "DECISION": TaskType(emit_switch, RHOMBUS, "self"),
    "TERMINATE": TaskType(emit_terminate, STADIUM, "self"),
    "WAIT": TaskType(emit_wait, ROUNDED, wait_output),
    "HUMAN": TaskType(emit_callback, PARALLELOGRAM),
    "NOOP": TaskType(emit_noop, output="empty"),
    "SET_VARIABLE": TaskType(emit_set_variable, output="empty"),
    "DO_WHILE": TaskType(emit_do_while, output="self"),
    "WHILE": TaskType(emit_do_while, output="self"),
    "INLINE": TaskType(emit_inline),
    "LAMBDA": TaskType(emit_lambda),
    "JSON_JQ_TRANSFORM": TaskType(emit_jq_transform),
    "HTTP": TaskType(emit_http),
    "KAFKA_PUBLISH": refused("Kafka publishing has no Step Functions integration; publish from a worker"),
    "EVENT": TaskType(emit_event, FLAG),
    "WAIT_FOR_WEBHOOK": refused("webhooks need a callback (waitForTaskToken) design"),
    "EXCLUSIVE_JOIN": TaskType(emit_exclusive_join, HEXAGON),
    "START_WORKFLOW": TaskType(emit_start_workflow, SUBROUTINE),
    "DYNAMIC": TaskType(emit_dynamic),
    "SET_CORRELATION_ID": TaskType(emit_set_correlation_id),
}

UNKNOWN = refused("this task type has no Step Functions translation")


def task_type(kind: str) -> TaskType:
    return TASK_TYPES.get(kind, UNKNOWN)
