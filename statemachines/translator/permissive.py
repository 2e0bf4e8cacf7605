"""PERMISSIVE: a worker task whose failure lets the workflow go on, and fails it later.

What Conductor OSS does (core/.../execution/DeciderService.java, tasks/Join.java,
mapper/PermissiveTaskMapper.java):

- the task is scheduled like a SIMPLE task, its worker polls its name, under its task definition,
  inline or registered; with neither, PermissiveTaskMapper fails the workflow ("Invalid task. Task
  %s does not have a definition": no default definition as for SIMPLE);
- it is retried like any worker task; when the retries are spent, `retry()` returns nothing for it
  (as for an optional task) and, unless it is also optional, its status stays FAILED: the tasks
  after it are scheduled, the workflow goes on;
- a JOIN waiting on it fails once every task it joins is terminal (Join.execute);
- when the workflow would complete (nothing left to schedule, or a TERMINATE completed),
  `decide()` fails it if any non-optional PERMISSIVE task ended unsuccessfully;
- an optional PERMISSIVE task is an optional task: COMPLETED_WITH_ERRORS, nothing fails later.

Here the spent failure is caught and recorded (`$.tasks.<ref>.status` FAILED, the output `{}`), and
a Choice before the JOIN and before every successful end of the workflow fails the execution with
`Conductor.PermissiveTaskFailed` when a recorded failure is there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachines.translator.fork_terminate import terminates_completed
from statemachines.translator.model import LOOP_TYPES, WorkflowTask
from statemachines.translator.references import located_tasks
from statemachines.translator.task_states import emit_worker_task

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.emitter_state import EmitterState
    from statemachines.translator.registry import EmitSite

PERMISSIVE_FAILED = "Conductor.PermissiveTaskFailed"


def emit_permissive(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, location = site.task, site.location
    ref = task.taskReferenceName
    if task.taskDefinition is None and task.name not in emitter.task_defs:
        emitter.diagnostics.error(
            f"{location}.name",
            f"PERMISSIVE task '{ref}' ({task.name}) has no task definition: Conductor fails the workflow "
            "when it schedules it (PermissiveTaskMapper); register one or give an inline taskDefinition",
        )
        return site.next_name
    if not task.optional:
        if ref in _loop_body_refs(emitter.workflow.tasks):
            emitter.diagnostics.error(
                f"{location}.type",
                f"PERMISSIVE task '{ref}' inside a DO_WHILE: Conductor fails the loop when it next looks "
                "at the iteration, while the body's next task may already be scheduled; not translated",
            )
            return site.next_name
        if _terminates_in_a_branch(emitter.workflow.tasks):
            emitter.diagnostics.error(
                f"{location}.type",
                f"PERMISSIVE task '{ref}' in a workflow with a TERMINATE (COMPLETED) inside a fork branch: "
                "that TERMINATE would have to see failures recorded in other branches; not translated",
            )
            return site.next_name
    return emit_worker_task(emitter, site, permissive=True)


def failing_refs(tasks: list[WorkflowTask]) -> list[str]:
    """The non-optional PERMISSIVE tasks among `tasks` and everything nested in them."""
    return [t.taskReferenceName for _, t in located_tasks(tasks) if t.type == "PERMISSIVE" and not t.optional]


def guard_join(
    emitter: EmitterState, join: WorkflowTask, joined: list[str], states: dict[str, Any], join_entry: str
) -> str:
    """Before a FORK_JOIN's JOIN: a joined PERMISSIVE task that failed fails it, hence the workflow
    (the Parallel has waited for every branch, so every joined task is terminal, as Join.execute
    requires). An optional JOIN's failure is only recorded by Conductor: the end check sees it."""
    refs = [r for r in failing_refs(emitter.workflow.tasks) if r in joined]
    if not refs or join.optional:
        return join_entry
    return _check(emitter, f"{join.taskReferenceName}: PERMISSIVE failures?", refs, states, join_entry)


def guard_workflow_end(emitter: EmitterState, states: dict[str, Any], start: str) -> str:
    """Puts a check before every state that ends the execution successfully: DeciderService fails
    a workflow about to complete when a non-optional PERMISSIVE task failed. Returns the start state
    (renamed only if the start itself ends the execution)."""
    refs = failing_refs(emitter.workflow.tasks)
    if not refs:
        return start
    ends = [name for name, state in states.items() if state.get("End")]
    for name in ends:
        if states[name]["Type"] not in ("Pass", "Succeed"):
            emitter.diagnostics.error(
                "tasks", f"state '{name}' ends the workflow: no PERMISSIVE failure check can precede it"
            )
    checks = {name: emitter.names.allocate(f"{name}: PERMISSIVE failures?") for name in ends}
    for state in states.values():
        for key in ("Next", "Default"):
            if state.get(key) in checks:
                state[key] = checks[state[key]]
        for rule in (*state.get("Choices", ()), *state.get("Catch", ())):
            rule["Next"] = checks.get(rule["Next"], rule["Next"])
    fails: dict[str, str] = {}
    for name, check in checks.items():
        _check(emitter, check, refs, states, name, fails=fails, allocated=True)
    return checks.get(start, start)


def _check(
    emitter: EmitterState,
    label: str,
    refs: list[str],
    states: dict[str, Any],
    otherwise: str,
    *,
    fails: dict[str, str] | None = None,
    allocated: bool = False,
) -> str:
    """A Choice: the first of `refs` with a recorded failure goes to its Fail state, else `otherwise`.
    `fails`: Fail states already made in `states`, shared by the checks of one States map."""
    fails = {} if fails is None else fails
    for ref in refs:
        if ref not in fails:
            fails[ref] = emitter.names.allocate(f"{ref}: failed the workflow")
            states[fails[ref]] = {
                "Type": "Fail",
                "Comment": "Conductor: a non-optional PERMISSIVE task failed",
                "Error": PERMISSIVE_FAILED,
                "CausePath": f"States.Format('PERMISSIVE task {ref} failed: {{}}', "
                f"$.tasks.{ref}.reasonForIncompletion)",
            }
    name = label if allocated else emitter.names.allocate(label)
    states[name] = {
        "Type": "Choice",
        "Comment": "Conductor fails here when a PERMISSIVE task it waited for failed",
        "Choices": [
            {"Variable": f"$.tasks.{ref}.status", "IsPresent": True, "Next": fails[ref]} for ref in refs
        ],
        "Default": otherwise,
    }
    return name


def _loop_body_refs(tasks: list[WorkflowTask]) -> set[str]:
    return {
        ref
        for _, loop in located_tasks(tasks)
        if loop.type in LOOP_TYPES
        for ref in (t.taskReferenceName for _, t in located_tasks(loop.loopOver))
    }


def _terminates_in_a_branch(tasks: list[WorkflowTask]) -> bool:
    return any(
        terminates_completed(branch)
        for _, fork in located_tasks(tasks)
        if fork.type == "FORK_JOIN"
        for branch in fork.forkTasks
    )
