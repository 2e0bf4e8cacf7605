"""Conductor reads a missing path as null; ASL fails on it. These states make every read path exist.

Conductor resolves a missing path to null in the input of the task that reads it, and nowhere else:
the task whose output lacks the key keeps its output as it was (ParametersUtils.getTaskInputV2 reads
a copy). Two ways to get there:

* a path no other read can see is made to exist where it is: `{}` parents and a null leaf are
  written into the context (one Choice on the happy path). Nothing can tell, because no expression,
  JOIN or workflow output reads an enclosing object;
* a path some other read *can* see through (`${t.output}` beside `${t.output.a.b}`, a task a JOIN
  or the workflow output hands on whole) is read from a *view* instead: `$.tasks.<ref>.reads.<key>`,
  a copy of the value, null when it is missing, rebuilt after every run of the task. The task's own
  output never gains a key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from statemachines.translator.expressions import path_of
from statemachines.translator.read_views import VIEWS_KEY, WORKFLOW_OWNER, view_owner

if TYPE_CHECKING:
    from statemachines.translator.emitter_state import EmitterState

NULL_PATH = "$.workflow.missing"  # always null: the value a missing Conductor path reads as


def skeleton(emitter: EmitterState) -> dict[str, Any]:
    """`tasks` with every reference, and null at every read path: Conductor's missing value."""
    skeleton: dict[str, Any] = {ref: {"output": None} for ref in sorted(emitter.refs)}
    for path, key in sorted(emitter.views.items()):
        skeleton.setdefault(view_owner(path), {}).setdefault(VIEWS_KEY, {})[key] = None
    for path in sorted(emitter.referenced):
        if path[0] != "tasks" or len(path) < 3 or path in emitter.views:
            continue
        node = skeleton.setdefault(path[1], {})
        for depth, segment in enumerate(path[2:]):
            last = depth == len(path) - 3
            if not isinstance(node.get(segment), dict):
                node[segment] = None if last else {}
            node = node[segment]
            if node is None:
                break
    return skeleton


def ensure(
    emitter: EmitterState,
    paths: Iterable[tuple[str, ...]],
    label: str,
    states: dict[str, Any],
    next_name: str | None,
    *,
    guaranteed: int,
) -> str | None:
    """Choice/Pass states that create missing read paths (null leaves, {} parents).

    One Choice answers the common case (everything present); the chain below it runs only when
    something is missing. `guaranteed` is how many leading segments always exist.
    """
    wanted = sorted(set(paths))
    if not wanted:
        return next_name
    next_name = _end_if_none(emitter, label, states, next_name)
    prefixes: list[tuple[str, ...]] = []
    for path in wanted:
        for depth in range(guaranteed + 1, len(path) + 1):
            if path[:depth] not in prefixes:
                prefixes.append(path[:depth])
    parents = {p[:-1] for p in prefixes}
    leaves = [p for p in prefixes if p not in parents]
    follow = next_name
    for number, prefix in reversed(list(enumerate(prefixes, start=1))):
        check = emitter.names.allocate(f"{label}: check {number}")
        fix = emitter.names.allocate(f"{label}: default {number}")
        rules: list[dict[str, Any]] = [{"Not": {"Variable": path_of(prefix), "IsPresent": True}, "Next": fix}]
        if prefix in parents:
            rules.append({"Variable": path_of(prefix), "IsNull": True, "Next": fix})
        states[check] = {"Type": "Choice", "Choices": rules, "Default": follow}
        states[fix] = {
            "Type": "Pass",
            "Comment": f"Conductor reads a missing {'.'.join(prefix)} as null",
            "ResultPath": path_of(prefix),
            "Next": follow,
        }
        if prefix in parents:
            states[fix]["Result"] = {}
        else:  # a null from the context: a Pass `Result` of null is easily read as "no Result"
            states[fix]["InputPath"] = NULL_PATH
        follow = check
    return _all_present(emitter, leaves, label, states, present=next_name, otherwise=follow)


def _end_if_none(emitter: EmitterState, label: str, states: dict[str, Any], next_name: str | None) -> str:
    if next_name is not None:
        return next_name
    end = emitter.names.allocate(f"{label}: ready")
    states[end] = {"Type": "Pass", "End": True}
    return end


def _all_present(
    emitter: EmitterState,
    paths: list[tuple[str, ...]],
    label: str,
    states: dict[str, Any],
    *,
    present: str,
    otherwise: str,
) -> str:
    """One Choice: to `present` when every path exists, else to `otherwise`."""
    checks = [{"Variable": path_of(p), "IsPresent": True} for p in paths]
    fast = emitter.names.allocate(f"{label}: all present?")
    condition = checks[0] if len(checks) == 1 else {"And": checks}
    states[fast] = {"Type": "Choice", "Choices": [{**condition, "Next": present}], "Default": otherwise}
    return fast


def _ensure_views(
    emitter: EmitterState, ref: str, states: dict[str, Any], next_name: str | None
) -> str | None:
    """After a run of `ref` (or the start, for `workflow`): its views, each a copy of its path or
    null when the path is missing (one Choice and one Pass when every path is present)."""
    viewed = sorted((path, key) for path, key in emitter.views.items() if view_owner(path) == ref)
    if not viewed:
        return next_name
    next_name = _end_if_none(emitter, f"{ref}: views", states, next_name)
    views = path_of(("tasks", ref, VIEWS_KEY))
    copy = emitter.names.allocate(f"{ref}: read values")
    states[copy] = {
        "Type": "Pass",
        "Comment": "What the expressions read, copied: the task's output keeps its own keys",
        "Parameters": {f"{key}.$": path_of(path) for path, key in viewed},
        "ResultPath": views,
        "Next": next_name,
    }
    follow = next_name
    for number, (path, key) in reversed(list(enumerate(viewed, start=1))):
        check = emitter.names.allocate(f"{ref}: read value {number}?")
        take = emitter.names.allocate(f"{ref}: read value {number}")
        states[take] = {
            "Type": "Pass",
            "InputPath": path_of(path),
            "ResultPath": path_of((key,), views),
            "Next": follow,
        }
        rule = {"Variable": path_of(path), "IsPresent": True, "Next": take}
        states[check] = {"Type": "Choice", "Choices": [rule], "Default": follow}
        follow = check
    nulls = emitter.names.allocate(f"{ref}: read values as null")
    states[nulls] = {
        "Type": "Pass",
        "Comment": "Conductor reads a missing path as null, in the reading task's input only",
        "Parameters": {f"{key}.$": NULL_PATH for _, key in viewed},
        "ResultPath": views,
        "Next": follow,
    }
    return _all_present(
        emitter, [p for p, _ in viewed], f"{ref}: read values", states, present=copy, otherwise=nulls
    )


def ensure_workflow_input(emitter: EmitterState, states: dict[str, Any], next_name: str | None) -> str | None:
    """After the start: the workflow input's and variables' read paths."""
    after = _ensure_views(emitter, WORKFLOW_OWNER, states, next_name)
    paths = [
        p for p in emitter.referenced if p[:1] == ("workflow",) and len(p) > 2 and p not in emitter.views
    ]
    return ensure(emitter, paths, "workflow input", states, after, guaranteed=2)


def ensure_outputs(
    emitter: EmitterState, ref: str, states: dict[str, Any], next_name: str | None
) -> str | None:
    after = _ensure_views(emitter, ref, states, next_name)
    paths = [
        p for p in emitter.referenced if p[:2] == ("tasks", ref) and len(p) > 3 and p not in emitter.views
    ]
    return ensure(emitter, paths, ref, states, after, guaranteed=2)
