"""ASL building blocks shared by every construct: state names, links, ordering, integration ARNs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

START_EXECUTION_SYNC = "arn:aws:states:::states:startExecution.sync:2"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
PLACEHOLDER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
MAX_STATE_NAME = 80
EXPRESS_MAX_SECONDS = 300


class StateNames:
    """State names: unique in the whole state machine, at most 80 characters, as ASL requires."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def allocate(self, base: str) -> str:
        base = base[:MAX_STATE_NAME]
        name, counter = base, 2
        while name in self.used:
            suffix = f" #{counter}"
            name = base[: MAX_STATE_NAME - len(suffix)] + suffix
            counter += 1
        self.used.add(name)
        return name


def link(state: dict[str, Any], next_name: str | None) -> dict[str, Any]:
    """Chains `state` to the state that follows it, or ends its branch when none does."""
    if next_name is None:
        state["End"] = True
    else:
        state["Next"] = next_name
    return state


def choice_or_fail(
    states: dict[str, Any],
    names: StateNames,
    label: str,
    choices: list[dict[str, Any]],
    *,
    failure: tuple[str, str, str],
    fail_when: tuple[dict[str, Any], ...] = (),
) -> str:
    """A Choice over `choices` whose Default (and any `fail_when` rule, tested first) is a Fail state
    `failure` = (its label, Error, Cause); returns the Choice's name."""
    fail_label, error, cause = failure
    fail = names.allocate(fail_label)
    states[fail] = {"Type": "Fail", "Error": error, "Cause": cause}
    name = names.allocate(label)
    states[name] = {
        "Type": "Choice",
        "Choices": [*({**r, "Next": fail} for r in fail_when), *choices],
        "Default": fail,
    }
    return name


def route_by_name(
    states: dict[str, Any],
    names: StateNames,
    label: str,
    variable: str,
    routes: Mapping[str, str],
    *,
    failure: tuple[str, str, str],
) -> str:
    """A Choice sending the string at `variable` to `routes[value]`; anything else (not a string,
    or no route) to the Fail state `failure` = (its label, Error, Cause)."""
    choices = [
        {"Variable": variable, "StringEquals": value, "Next": route} for value, route in routes.items()
    ]
    guard = ({"Not": {"Variable": variable, "IsString": True}},)
    return choice_or_fail(states, names, label, choices, failure=failure, fail_when=guard)


def ordered(states: dict[str, Any], start: str) -> dict[str, Any]:
    """States in execution order (depth-first from StartAt), so the golden files read top-down."""
    order: list[str] = []
    pending = [start]
    while pending:
        name = pending.pop(0)
        if name in order or name not in states:
            continue
        order.append(name)
        state = states[name]
        successors = [rule["Next"] for rule in state.get("Choices", [])]
        successors += [state[k] for k in ("Next", "Default") if k in state]
        successors += [c["Next"] for c in state.get("Catch", [])]
        pending = successors + pending
    order += [n for n in states if n not in order]
    return {name: states[name] for name in order}


def prefixed_states(asl: dict[str, Any], prefix: str, names: StateNames) -> dict[str, Any]:
    """A copy of a child state machine as a branch, its state names prefixed to stay unique."""
    renamed: dict[str, str] = {}

    def rename(name: str) -> str:
        if name not in renamed:
            renamed[name] = names.allocate(f"{prefix}{name}")
        return renamed[name]

    def walk(container: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"StartAt": rename(container["StartAt"]), "States": {}}
        for name, state in container["States"].items():
            copy = json.loads(json.dumps(state))
            for key in ("Next", "Default"):
                if key in copy:
                    copy[key] = rename(copy[key])
            for rule in copy.get("Choices", []):
                rule["Next"] = rename(rule["Next"])
            for catcher in copy.get("Catch", []):
                catcher["Next"] = rename(catcher["Next"])
            if "Branches" in copy:
                copy["Branches"] = [walk(b) for b in copy["Branches"]]
            if "ItemProcessor" in copy:
                processor = copy["ItemProcessor"]
                copy["ItemProcessor"] = {**processor, **walk(processor)}
            result["States"][rename(name)] = copy
        return result

    return walk(asl)


def every_state(container: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every state of a state machine, inside Parallel branches and Map processors too."""
    for state in container.get("States", {}).values():
        yield state
        for branch in state.get("Branches", []):
            yield from every_state(branch)
        if "ItemProcessor" in state:
            yield from every_state(state["ItemProcessor"])


def task_states(container: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Task state of a state machine, inside Parallel branches and Map processors too."""
    return (state for state in every_state(container) if state.get("Type") == "Task")
