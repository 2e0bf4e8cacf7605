"""FORK_JOIN and its JOIN: a Parallel state, one branch per fork, results merged back into the context."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import link, ordered
from statemachines.translator.expressions import path_of
from statemachines.translator.fork_terminate import catch_terminated, terminates_completed
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import WorkflowTask
from statemachines.translator.permissive import guard_join
from statemachines.translator.references import context_refs

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

# joined outputs merged in one intrinsic expression: with ArrayGetItem/Array around each, it nests
# JOIN_GROUP + 1 functions deep, within the nesting intrinsic expressions are kept to here (10)
JOIN_GROUP = 8


def emit_fork(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    """A Parallel state, one branch per fork, then the JOIN's output and the merge of the branches."""
    task, join, location, states, next_name = site.task, site.join, site.location, site.states, site.next_name
    ref = task.taskReferenceName
    if not task.forkTasks:
        emitter.diagnostics.error(f"{location}.forkTasks", f"FORK_JOIN '{ref}' has no branches")
        return next_name
    after = next_name
    branch_refs = [context_refs(branch) for branch in task.forkTasks]
    if join is not None:
        join_ref = join.taskReferenceName
        after = ensure_outputs(emitter, join_ref, states, after)
        where: dict[str, int] = {r: b for b, refs in enumerate(branch_refs) for r in refs}
        joined: list[str] = []
        for position, waited in enumerate(join.joinOn):
            if waited not in where:
                emitter.diagnostics.error(
                    f"{location.rsplit('[', 1)[0]}[?].joinOn[{position}]",
                    f"JOIN '{join_ref}' waits on '{waited}', which is not in fork '{ref}'",
                )
                continue
            joined.append(waited)
        after = guard_join(
            emitter, join, joined, states, _emit_join(emitter, join_ref, joined, states, after)
        )
    # SET_VARIABLE in a branch changes the workflow's variables: each such branch reports its
    # changes (`$.workflow.changed`, reset for the branches by the Parallel) and the merge applies
    # them in branch order (Conductor's branches share one variables map: last writer wins).
    setters = [b for b, branch in enumerate(task.forkTasks) if sets_variables(branch)]
    workflow: Any = "$.workflow"
    if setters:
        variables = "States.JsonMerge($.workflow.variables, $.fork.variables, false)"
        workflow = {"input.$": "$.workflow.input", "missing": None, "variables.$": variables}
        if emitter.branch_depth:
            workflow["changed.$"] = "States.JsonMerge($.workflow.changed, $.fork.variables, false)"
    merge_name = emitter.names.allocate(f"{ref}: merge branches")
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
        collect = emitter.names.allocate(f"{ref}: branch {b + 1} results")
        results: dict[str, Any] = {f"{r}.$": f"$.tasks.{r}" for r in branch_refs[b]}
        branch_states[collect] = {"Type": "Pass", "Parameters": results, "End": True}
        if b in setters:
            # [results, changes] as one array: `$[b].pair[i]` reads back well in moto and AWS
            # (moto returns a list for a field after an index, `$[b].tasks`)
            pair = emitter.names.allocate(f"{ref}: branch {b + 1} variables")
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
        emitter.branch_depth += 1
        first = emitter.emit_sequence(branch, f"{location}.forkTasks[{b}]", branch_states, collect)
        emitter.branch_depth -= 1
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
    if not emitter.branch_depth and any(terminates_completed(branch) for branch in task.forkTasks):
        state["Catch"] = [catch_terminated(emitter, ref, states)]
    name = emitter.names.allocate(ref)
    states[name] = state | {"ResultSelector": selector, "ResultPath": "$.fork", "Next": merge_name}
    return name


def _emit_join(
    emitter: WorkflowEmitter, join_ref: str, joined: list[str], states: dict[str, Any], after: str | None
) -> str:
    """Conductor's JOIN output: `{ref: output}` for every joined task whose output is not empty.

    Join.execute adds a task only when its output map is not empty (and skips one that never ran).
    A first Pass tells them apart with intrinsics (0 for `{}` or null, 1 otherwise); the JOIN picks
    `{}` or `{ref: output}` per task and merges them, at most JOIN_GROUP per intrinsic expression.
    """
    probe = emitter.names.allocate(f"{join_ref}: empty outputs")
    join_name = emitter.names.allocate(join_ref)
    states[probe] = {
        "Type": "Pass",
        "Comment": "Conductor JOIN leaves out joined tasks whose output is empty: 0 = empty, 1 = not",
        "Parameters": {
            "none": {},
            "keyed": {r: {f"{r}.$": path_of(("tasks", r, "output"))} for r in joined},
            "present": {f"{r}.$": non_empty_index(path_of(("tasks", r, "output"))) for r in joined},
        },
        "ResultPath": "$.join",
        "Next": join_name,
    }
    picked = [
        f"States.ArrayGetItem(States.Array($.join.none, $.join.keyed.{r}), $.join.present.{r})"
        for r in joined
    ]
    groups = [picked[i : i + JOIN_GROUP] for i in range(0, len(picked), JOIN_GROUP)] or [["$.join.none"]]
    if len(groups) == 1:
        body: dict[str, Any] = {"Parameters": {"output.$": merge_all(groups[0])}}
    else:
        # more tasks than one expression may nest: merge each group, then the groups
        grouped = emitter.names.allocate(f"{join_ref}: groups")
        states[grouped] = {
            "Type": "Pass",
            "Parameters": {f"g{i}.$": merge_all(group) for i, group in enumerate(groups)},
            "ResultPath": "$.join.groups",
            "Next": join_name,
        }
        states[probe]["Next"] = grouped
        body = {"Parameters": {"output.$": merge_all([f"$.join.groups.g{i}" for i in range(len(groups))])}}
    states[join_name] = link(
        {
            "Type": "Pass",
            "Comment": "Conductor JOIN: output keyed by reference name",
            **body,
            "ResultPath": f"$.tasks.{join_ref}",
        },
        after,
    )
    return probe


def non_empty_index(path: str) -> str:
    """0 when the value at `path` is `{}` or null, else 1, with intrinsics only.

    A non-empty object's JSON text has a `:`, so splitting it there gives 2 or more parts; `{}` and
    `null` give one. Deduplicating [parts, 1] then leaves 1 or 2 items.
    """
    parts = f"States.ArrayLength(States.StringSplit(States.JsonToString({path}), ':'))"
    return f"States.MathAdd(States.ArrayLength(States.ArrayUnique(States.Array({parts}, 1))), -1)"


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
        if any(sets_variables(inner) for inner in task.children()):
            return True
    return False
