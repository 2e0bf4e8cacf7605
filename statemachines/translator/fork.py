"""FORK_JOIN and its JOIN: a Parallel state, one branch per fork, results merged back into the context."""

from __future__ import annotations

from typing import Any

from statemachines.translator.asl_states import link, ordered
from statemachines.translator.emitter_state import EmitterState
from statemachines.translator.model import WorkflowTask
from statemachines.translator.references import context_refs


class ForkMixin(EmitterState):
    """FORK_JOIN + JOIN."""

    def _emit_fork(
        self,
        task: WorkflowTask,
        join: WorkflowTask | None,
        location: str,
        states: dict[str, Any],
        next_name: str | None,
    ) -> str | None:
        ref = task.taskReferenceName
        if not task.forkTasks:
            self.diagnostics.error(f"{location}.forkTasks", f"FORK_JOIN '{ref}' has no branches")
            return next_name
        after = next_name
        branch_refs = [context_refs(branch) for branch in task.forkTasks]
        if join is not None:
            join_ref = join.taskReferenceName
            after = self._ensure_outputs(join_ref, states, after)
            where: dict[str, int] = {r: b for b, refs in enumerate(branch_refs) for r in refs}
            join_output: dict[str, Any] = {}
            for position, waited in enumerate(join.joinOn):
                if waited not in where:
                    self.diagnostics.error(
                        f"{location.rsplit('[', 1)[0]}[?].joinOn[{position}]",
                        f"JOIN '{join_ref}' waits on '{waited}', which is not in fork '{ref}'",
                    )
                    continue
                join_output[f"{waited}.$"] = f"$.tasks.{waited}.output"
            join_name = self.names.allocate(join_ref)
            states[join_name] = link(
                {
                    "Type": "Pass",
                    "Comment": "Conductor JOIN: output keyed by reference name",
                    "Parameters": {"output": join_output},
                    "ResultPath": f"$.tasks.{join_ref}",
                },
                after,
            )
            after = join_name
        # SET_VARIABLE in a branch changes the workflow's variables: each such branch reports its
        # changes (`$.workflow.changed`, reset for the branches by the Parallel) and the merge applies
        # them in branch order (Conductor's branches share one variables map: last writer wins).
        setters = [b for b, branch in enumerate(task.forkTasks) if sets_variables(branch)]
        workflow: Any = "$.workflow"
        if setters:
            variables = "States.JsonMerge($.workflow.variables, $.fork.variables, false)"
            workflow = {"input.$": "$.workflow.input", "missing": None, "variables.$": variables}
            if self.branch_depth:
                workflow["changed.$"] = "States.JsonMerge($.workflow.changed, $.fork.variables, false)"
        merge_name = self.names.allocate(f"{ref}: merge branches")
        states[merge_name] = link(
            {
                "Type": "Pass",
                "Comment": "Puts every branch's task results back into one context",
                "Parameters": {
                    "workflow" if setters else "workflow.$": workflow,
                    "tasks.$": "States.JsonMerge($.tasks, $.fork.merged, false)",
                },
            },
            after,
        )
        branches = []
        for b, branch in enumerate(task.forkTasks):
            branch_states: dict[str, Any] = {}
            collect = self.names.allocate(f"{ref}: branch {b + 1} results")
            results: dict[str, Any] = {f"{r}.$": f"$.tasks.{r}" for r in branch_refs[b]}
            branch_states[collect] = {"Type": "Pass", "Parameters": results, "End": True}
            if b in setters:
                # [results, changes] as one array: `$[b].pair[i]` reads back well in moto and AWS
                # (moto returns a list for a field after an index, `$[b].tasks`)
                pair = self.names.allocate(f"{ref}: branch {b + 1} variables")
                branch_states[collect] = {
                    "Type": "Pass",
                    "Parameters": {"tasks": results, "changed.$": "$.workflow.changed"},
                    "Next": pair,
                }
                branch_states[pair] = {
                    "Type": "Pass",
                    "Parameters": {"pair.$": "States.Array($.tasks, $.changed)"},
                    "End": True,
                }
            self.branch_depth += 1
            first = self._emit_sequence(branch, f"{location}.forkTasks[{b}]", branch_states, collect)
            self.branch_depth -= 1
            start = first or collect
            branches.append({"StartAt": start, "States": ordered(branch_states, start)})
        selector = {
            "merged.$": merge_all(
                [f"$[{b}].pair[0]" if b in setters else f"$[{b}]" for b in range(len(branches))]
            )
        }
        state: dict[str, Any] = {"Type": "Parallel", "Comment": "Conductor FORK_JOIN", "Branches": branches}
        if setters:
            selector["variables.$"] = merge_all([f"$[{b}].pair[1]" for b in setters])
            state["Parameters"] = {
                "workflow": {
                    "input.$": "$.workflow.input",
                    "missing": None,
                    "variables.$": "$.workflow.variables",
                    "changed": {},
                },
                "tasks.$": "$.tasks",
            }
        name = self.names.allocate(ref)
        states[name] = state | {"ResultSelector": selector, "ResultPath": "$.fork", "Next": merge_name}
        return name


def merge_all(paths: list[str]) -> str:
    """One object from several, later keys winning: nested shallow `States.JsonMerge`s."""
    merged = paths[0]
    for path in paths[1:]:
        merged = f"States.JsonMerge({merged}, {path}, false)"
    return merged


def sets_variables(tasks: list[WorkflowTask]) -> bool:
    """Whether a SET_VARIABLE runs anywhere in these tasks (nested forks, cases and loops included)."""
    for task in tasks:
        if task.type == "SET_VARIABLE":
            return True
        nested = [*task.forkTasks, *task.decisionCases.values(), task.defaultCase, task.loopOver]
        if any(sets_variables(inner) for inner in nested):
            return True
    return False
