"""Summarise: what a translated workflow integrates with, read from its finished ASL.

CDK and the local runtime fill one placeholder per integration (`${LambdaArn_<task>}`,
`${ActivityArn_<task>}`, `${StateMachineArn_<workflow>}`, `${ConnectionArn_<name>}`) and grant IAM
for it, so what the workflow needs is exactly what its states call. Reading it from the ASL after
emission, instead of each construct recording it as it emits, keeps the two from disagreeing; an
inlined child's states are part of the parent's ASL, and so are its integrations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from statemachines.translator.activities import ACTIVITY_PLACEHOLDER_PREFIX
from statemachines.translator.asl_states import START_EXECUTION_SYNC
from statemachines.translator.http import connection_placeholder
from statemachines.translator.start_workflow import START_EXECUTION

LAMBDA_PLACEHOLDER = re.compile(r"\$\{LambdaArn_([^}]+)\}")
ACTIVITY_PLACEHOLDER = re.compile(rf"\$\{{{re.escape(ACTIVITY_PLACEHOLDER_PREFIX)}([^}}]+)\}}")
CONNECTION_PLACEHOLDER = re.compile(rf"\$\{{{re.escape(connection_placeholder(''))}([^}}]+)\}}")
STATE_MACHINE_PLACEHOLDER = re.compile(r"\$\{StateMachineArn_([^}]+)\}")


@dataclass(frozen=True)
class Integrations:
    """The workers, activities, workflows and HTTP connections one workflow's states call."""

    lambda_tasks: frozenset[str]
    activity_tasks: frozenset[str]
    # children it starts and waits for (startExecution.sync:2): Standard-only, deployed first
    child_workflows: frozenset[str]
    # workflows it starts and does not wait for (START_WORKFLOW): deployed first
    started_workflows: frozenset[str]
    http_connections: frozenset[str]


def integrations(asl: dict[str, Any]) -> Integrations:
    text = json.dumps(asl)
    waited: set[str] = set()
    started: set[str] = set()
    for state in _states(asl):
        arn = (state.get("Parameters") or {}).get("StateMachineArn")
        child = STATE_MACHINE_PLACEHOLDER.fullmatch(arn) if isinstance(arn, str) else None
        if child is None:
            continue
        if state.get("Resource") == START_EXECUTION_SYNC:
            waited.add(child.group(1))
        elif state.get("Resource") == START_EXECUTION:
            started.add(child.group(1))
    return Integrations(
        lambda_tasks=frozenset(LAMBDA_PLACEHOLDER.findall(text)),
        activity_tasks=frozenset(ACTIVITY_PLACEHOLDER.findall(text)),
        child_workflows=frozenset(waited),
        started_workflows=frozenset(started),
        http_connections=frozenset(CONNECTION_PLACEHOLDER.findall(text)),
    )


def _states(machine: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every state of a state machine, those of its Parallel branches and Map processors included."""
    for state in machine.get("States", {}).values():
        yield state
        for branch in state.get("Branches", ()):
            yield from _states(branch)
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"])
