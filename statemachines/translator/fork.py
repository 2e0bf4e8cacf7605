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
        merge_name = self.names.allocate(f"{ref}: merge branches")
        states[merge_name] = link(
            {
                "Type": "Pass",
                "Comment": "Puts every branch's task results back into one context",
                "Parameters": {
                    "workflow.$": "$.workflow",
                    "tasks.$": "States.JsonMerge($.tasks, $.fork.merged, false)",
                },
            },
            after,
        )
        branches = []
        for b, branch in enumerate(task.forkTasks):
            branch_states: dict[str, Any] = {}
            collect = self.names.allocate(f"{ref}: branch {b + 1} results")
            branch_states[collect] = {
                "Type": "Pass",
                "Parameters": {f"{r}.$": f"$.tasks.{r}" for r in branch_refs[b]},
                "End": True,
            }
            self.branch_depth += 1
            first = self._emit_sequence(branch, f"{location}.forkTasks[{b}]", branch_states, collect)
            self.branch_depth -= 1
            start = first or collect
            branches.append({"StartAt": start, "States": ordered(branch_states, start)})
        merged = "$[0]"
        for b in range(1, len(branches)):
            merged = f"States.JsonMerge({merged}, $[{b}], false)"
        name = self.names.allocate(ref)
        states[name] = {
            "Type": "Parallel",
            "Comment": "Conductor FORK_JOIN",
            "Branches": branches,
            "ResultSelector": {"merged.$": merged},
            "ResultPath": "$.fork",
            "Next": merge_name,
        }
        return name
