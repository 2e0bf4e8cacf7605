"""Conductor WorkflowDef -> Amazon States Language (JSONPath query language).

A small compiler: the workflow is analysed once (analysis.py: every expression resolved, its
findings reported, the read paths and their views), emitted from the analysis, and its integrations
are summarised from the finished ASL (summary.py).

States are emitted back to front: every emit function receives the name of the state that follows
it (or None at the end of a branch) and returns the name of its own first state.
This module walks the task list and builds the start and end states; each task type's translation
is found in the registry (registry.py), one module per construct. See docs/translator.md for the
context document and the mapping of each task type.
"""

from __future__ import annotations

from typing import Any

from statemachines.translator.asl_states import EXPRESS_MAX_SECONDS, link, ordered
from statemachines.translator.do_while import mark_last_ran
from statemachines.translator.dynamic_fork import JOIN_MERGE_CHUNKS
from statemachines.translator.emitter_state import EmitResult, EmitterState
from statemachines.translator.exclusive_join import mark_ran
from statemachines.translator.missing_paths import ensure_workflow_input, skeleton
from statemachines.translator.model import WorkflowTask
from statemachines.translator.permissive import guard_workflow_end
from statemachines.translator.references import context_refs, dynamic_join_refs
from statemachines.translator.registry import EmitSite, task_type

__all__ = [
    "EXPRESS_MAX_SECONDS",
    "JOIN_MERGE_CHUNKS",
    "EmitResult",
    "WorkflowEmitter",
    "context_refs",
    "dynamic_join_refs",
]


class WorkflowEmitter(EmitterState):
    """Translates one WorkflowDef; findings go to `diagnostics`, never raised."""

    # --- entry point -----------------------------------------------------------------------------
    def emit(self) -> EmitResult:
        states: dict[str, Any] = {}
        output = self._emit_output(states)
        self.output_state = output
        first = self.emit_sequence(self.workflow.tasks, "tasks", states, output)
        states |= self.tail_states
        start = guard_workflow_end(self, states, self._emit_start(states, first or output))
        asl: dict[str, Any] = {
            "Comment": f"Conductor workflow '{self.workflow.name}' v{self.workflow.version}, "
            "translated by imgpipe",
            "QueryLanguage": "JSONPath",
            "StartAt": start,
            "States": ordered(states, start),
        }
        if self.workflow.timeoutSeconds > 0:
            if self.workflow.timeoutPolicy == "TIME_OUT_WF":
                asl["TimeoutSeconds"] = self.workflow.timeoutSeconds
            else:
                self.diagnostics.warning(
                    "timeoutSeconds",
                    f"timeoutPolicy {self.workflow.timeoutPolicy} only alerts in Conductor: "
                    "no TimeoutSeconds is set",
                )
        self.result.asl = asl
        return self.result

    # --- sequences ---------------------------------------------------------------------------------
    def emit_sequence(
        self, tasks: list[WorkflowTask], location: str, states: dict[str, Any], next_name: str | None
    ) -> str | None:
        groups: list[tuple[int, WorkflowTask, WorkflowTask | None]] = []
        index = 0
        while index < len(tasks):
            task = tasks[index]
            if task.type in ("FORK_JOIN", "FORK_JOIN_DYNAMIC"):
                join = tasks[index + 1] if index + 1 < len(tasks) else None
                if join is None or join.type != "JOIN":
                    self.diagnostics.error(
                        f"{location}[{index}]",
                        f"{task.type} '{task.taskReferenceName}' must be followed by a JOIN task",
                    )
                    join = None
                    index += 1
                else:
                    index += 2
                groups.append((index - (2 if join else 1), task, join))
                continue
            if task.type == "JOIN":
                self.diagnostics.error(
                    f"{location}[{index}]", f"JOIN '{task.taskReferenceName}' does not follow a fork"
                )
                index += 1
                continue
            groups.append((index, task, None))
            index += 1
        current = next_name
        for index, (position, task, join) in enumerate(reversed(groups)):
            where = f"{location}[{position}]"
            after = current
            ends_itself = task_type(task.type).output_of(task) == "self"
            if index == 0 and self.at_workflow_end(next_name) and not ends_itself:
                after = self.output_of_task(join or task)
            current = self._emit_task(task, join, where, states, after)
        return current

    # --- the workflow output without outputParameters ------------------------------------------------
    def at_workflow_end(self, next_name: str | None) -> bool:
        """Whether a sequence ending in `next_name` ends the workflow, whose output is then the output
        of the last task that ran (DeciderService.updateWorkflowOutput)."""
        return not self.workflow.outputParameters and next_name == self.output_state

    def output_of_task(self, task: WorkflowTask) -> str:
        """The end state that makes `task`'s output the workflow output (one per task)."""
        ref = task.taskReferenceName
        if ref == self.workflow.tasks[-1].taskReferenceName:
            return self.output_state
        name = f"Workflow output: {ref}"[:80]
        if name not in self.tail_outputs:
            self.tail_outputs[name] = self.names.allocate(name)
        allocated = self.tail_outputs[name]
        if task_type(task.type).output_of(task) == "empty":
            self.tail_states[allocated] = {"Type": "Pass", "Result": {}, "End": True}
        else:
            self.tail_states[allocated] = {
                "Type": "Pass",
                "Comment": "No outputParameters: the output of the last task that ran, as in Conductor",
                "InputPath": f"$.tasks.{ref}.output",
                "End": True,
            }
        return allocated

    def _emit_task(
        self,
        task: WorkflowTask,
        join: WorkflowTask | None,
        location: str,
        states: dict[str, Any],
        next_name: str | None,
    ) -> str | None:
        kind = task.type
        translation = task_type(kind)
        if task.taskReferenceName in self.ran_marked:
            next_name = mark_ran(self, task.taskReferenceName, states, next_name)
        loop = self.last_ran_marks.get(task.taskReferenceName)
        switch = task.type in ("SWITCH", "DECISION")
        if loop is not None and not switch and next_name is not None:
            next_name = mark_last_ran(self, task.taskReferenceName, loop, states, next_name)
        if translation.emit is not None:
            first = translation.emit(self, EmitSite(task, join, location, states, next_name))
            if loop is not None and switch and first is not None:
                # before the switch: the task of its route, if any, records itself after it
                first = mark_last_ran(self, task.taskReferenceName, loop, states, first)
            return first
        self.diagnostics.error(
            f"{location}.type",
            f"task '{task.taskReferenceName}' of type {kind} cannot be translated: {translation.refused}",
        )
        return next_name

    # --- start and end ---------------------------------------------------------------------------
    def _emit_start(self, states: dict[str, Any], next_name: str) -> str:
        after = ensure_workflow_input(self, states, next_name)
        workflow: dict[str, Any] = {"input.$": "$", "variables": self.workflow.variables, "missing": None}
        if self.workflow.inputTemplate:
            workflow["template"] = self.workflow.inputTemplate
        start_name = self.names.allocate("Start")
        state: dict[str, Any] = {
            "Type": "Pass",
            "Comment": "Builds the context: workflow input, variables, one entry per task reference",
            "Parameters": {"workflow": workflow, "tasks": skeleton(self)},
        }
        if self.workflow.inputTemplate:
            merge = self.names.allocate("Apply inputTemplate")
            states[merge] = link(
                {
                    "Type": "Pass",
                    "Comment": "Conductor's inputTemplate: defaults under the execution input",
                    "Parameters": {
                        "workflow": {
                            "input.$": "States.JsonMerge($.workflow.template, $.workflow.input, false)",
                            "variables.$": "$.workflow.variables",
                            "missing": None,
                        },
                        "tasks.$": "$.tasks",
                    },
                },
                after,
            )
            after = merge
        states[start_name] = link(state, after)
        return start_name

    def _emit_output(self, states: dict[str, Any]) -> str:
        name = self.names.allocate("Workflow output")
        if self.workflow.outputParameters:
            state: dict[str, Any] = {
                "Type": "Pass",
                "Comment": "Conductor outputParameters",
                "Parameters": self.analysis.parameters(self.workflow.outputParameters, "outputParameters"),
            }
        elif task_type(self.workflow.tasks[-1].type).output_of(self.workflow.tasks[-1]) == "empty":
            state = {
                "Type": "Pass",
                "Comment": "No outputParameters: the last task's output, {}",
                "Result": {},
            }
        else:
            last = self.workflow.tasks[-1].taskReferenceName
            state = {
                "Type": "Pass",
                "Comment": "No outputParameters: the last task's output, as in Conductor",
                "InputPath": f"$.tasks.{last}.output",
            }
        states[name] = link(state, None)
        return name
