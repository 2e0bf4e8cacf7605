"""The translator's one result, and the summarise step that builds it after emission.

What the emitter records as it goes (the ASL, the workers, children and connections it used) and
what is read from the finished ASL (the worst-case duration, Express compatibility) become one
frozen `Translation`: what `translate_workflow` returns, CDK deploys, the local runtime runs and
`imgpipe translate` writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from statemachines.translator.activities import ACTIVITY_PLACEHOLDER_PREFIX
from statemachines.translator.asl_states import EXPRESS_MAX_SECONDS, every_state
from statemachines.translator.diagnostics import Diagnostic, Severity
from statemachines.translator.duration import longest_seconds
from statemachines.translator.emitter_state import EmitResult
from statemachines.translator.model import WorkflowDef
from statemachines.translator.summary import integrations


@dataclass(frozen=True)
class Translation:
    """One workflow's ASL (with definition-substitution placeholders), its findings, and what
    deploying it needs."""

    name: str
    asl: dict[str, Any]
    # every finding, errors and warnings; an error means the ASL must not be deployed
    diagnostics: list[Diagnostic]
    lambda_tasks: frozenset[str]
    child_workflows: frozenset[str]
    express_compatible: bool
    timeout_seconds: int | None
    concurrency_hints: dict[str, int]
    # Every retry taken and every attempt timing out; None when unbounded (a Map, a child).
    worst_case_seconds: float | None = None
    # SIMPLE tasks no Lambda worker serves: Step Functions activities (infra/activities.py)
    activity_tasks: frozenset[str] = frozenset()
    # Workflow names it starts without waiting (START_WORKFLOW, startExecution)
    started_workflows: frozenset[str] = frozenset()
    # EventBridge connections its HTTP tasks call through (`${ConnectionArn_<name>}`)
    http_connections: frozenset[str] = frozenset()
    # what those tasks call: `states:HTTPEndpoint` patterns (IAM StringLike) of the role's grant
    http_endpoints: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        """No error diagnostic: the ASL may be deployed."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def workflow_dependencies(self) -> frozenset[str]:
        """The workflows whose state machines must exist before this one: children and started ones."""
        return self.child_workflows | self.started_workflows

    @property
    def asl_json(self) -> str:
        """What CDK deploys and `make translate` writes."""
        return json.dumps(self.asl, indent=2, sort_keys=False)


def express_compatible(asl: Mapping[str, Any]) -> bool:
    """Express runs no `.sync` child, no `.waitForTaskToken` callback and no activity, and stops at
    5 minutes, so a workflow with one of them, or with a Wait past that, is Standard-only
    (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-standard-vs-express.html).
    Retries and timeouts are not counted here: their worst case (every attempt timing out, every
    back-off taken) is `longest_seconds`, which the CDK app reports when a deployer chooses Express
    anyway."""
    return not any(_standard_only(state) for state in every_state(asl))


def _standard_only(state: Mapping[str, Any]) -> bool:
    if state.get("Type") == "Wait":  # a Timestamp may be any time away
        return "Seconds" not in state or state["Seconds"] > EXPRESS_MAX_SECONDS
    if state.get("Type") != "Task":
        return False
    resource = state["Resource"]
    return (
        ".sync" in resource
        or resource.endswith(".waitForTaskToken")
        or resource.startswith(f"${{{ACTIVITY_PLACEHOLDER_PREFIX}")
    )


def summarise(workflow: WorkflowDef, emitted: EmitResult, diagnostics: Iterable[Diagnostic]) -> Translation:
    """The one result of a finished emission: its records frozen, the facts of its ASL read."""
    found = integrations(emitted.asl)
    return Translation(
        name=workflow.name,
        asl=emitted.asl,
        diagnostics=list(diagnostics),
        lambda_tasks=found.lambda_tasks,
        child_workflows=found.child_workflows,
        express_compatible=express_compatible(emitted.asl),
        timeout_seconds=workflow.timeoutSeconds or None,
        concurrency_hints=dict(sorted(emitted.concurrency_hints.items())),
        worst_case_seconds=longest_seconds(emitted.asl),
        activity_tasks=found.activity_tasks,
        started_workflows=found.started_workflows,
        http_connections=found.http_connections,
        http_endpoints=frozenset(emitted.http_endpoints),
    )
