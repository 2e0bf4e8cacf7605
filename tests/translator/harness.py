"""Runs translated state machines in moto's Step Functions engine with small stub workers.

The ASL is the translator's output with the same `${...}` placeholders CDK fills, substituted here
with moto ARNs; the Lambda tasks reach the stubs through the project's seam.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

from imgpipe.local import http_seam, moto_fixes
from imgpipe.local.lambda_seam import DEFAULT_ACCOUNT, DEFAULT_REGION, LambdaRouter, install
from lambdas.adapters.fetch import FetchPolicy
from statemachines.project import Project, substitute, translate_project
from statemachines.translator import Translation, TranslatorOptions, translate_workflow
from statemachines.translator.model import TaskDef, WorkflowDef

ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/imgpipe-tests"
# a hang guard for the polling loop, not a performance threshold
EXECUTION_GUARD_SECONDS = 120


@dataclass
class Execution:
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]]

    def count(self, event_type: str) -> int:
        return sum(1 for e in self.events if e["type"] == event_type)

    def max_event_bytes(self) -> int:
        return max(len(json.dumps(e, default=str)) for e in self.events)


@dataclass
class Engine:
    router: LambdaRouter
    client: Any
    arns: dict[str, str] = field(default_factory=dict)

    def function(self, task_name: str, handler: Callable[[Any, Any], Any]) -> None:
        self.router.register(f"fn-{task_name}", handler, timeout_seconds=30)

    def deploy(self, name: str, asl_json: str) -> str:
        values = {
            f"LambdaArn_{task}": f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:fn-{task}"
            for task in _placeholders(asl_json, "LambdaArn_")
        }
        values |= {
            f"StateMachineArn_{wf}": self.arns[wf] for wf in _placeholders(asl_json, "StateMachineArn_")
        }
        values |= {
            f"ActivityArn_{task}": f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:activity:act-{task}"
            for task in _placeholders(asl_json, "ActivityArn_")
        }
        values |= http_seam.connection_arns(
            _placeholders(asl_json, "ConnectionArn_"), "imgpipe", DEFAULT_ACCOUNT
        )
        definition = substitute(asl_json, values)
        arn = self.client.create_state_machine(name=name, definition=definition, roleArn=ROLE)[
            "stateMachineArn"
        ]
        self.arns[name] = arn
        return arn

    def deploy_translated(self, translated: Mapping[str, Translation]) -> None:
        """Children first, so every StateMachineArn placeholder has a value."""
        pending = dict(translated)
        while pending:
            ready = [n for n, tw in pending.items() if tw.child_workflows <= set(self.arns)]
            assert ready, f"cyclic children: {sorted(pending)}"
            for name in sorted(ready):
                self.deploy(name, pending.pop(name).asl_json)

    def run(self, name: str, payload: Any) -> Execution:
        execution_arn = self.client.start_execution(
            stateMachineArn=self.arns[name], name=uuid.uuid4().hex, input=json.dumps(payload)
        )["executionArn"]
        deadline = time.monotonic() + EXECUTION_GUARD_SECONDS
        while True:
            described = self.client.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution of {name} still running")
            time.sleep(0.02)
        events: list[dict[str, Any]] = []
        token = None
        while True:
            kwargs = {"executionArn": execution_arn, "maxResults": 1000}
            if token:
                kwargs["nextToken"] = token
            page = self.client.get_execution_history(**kwargs)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        output = described.get("output")
        return Execution(
            described["status"],
            json.loads(output) if output else None,
            described.get("error"),
            described.get("cause"),
            events,
        )


def _placeholders(asl_json: str, prefix: str) -> set[str]:
    import re

    return set(re.findall(r"\$\{" + prefix + r"([A-Za-z0-9_]+)\}", asl_json))


@contextmanager
def engine(http_policy: FetchPolicy = http_seam.HTTP_TASK_POLICY) -> Iterator[Engine]:
    """`http_policy`: the SSRF policy HTTP Tasks are sent under (a test's own CA bundle, say)."""
    router = LambdaRouter()
    try:
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            install(router, time_scale=0.0),
            moto_fixes.install(),
            http_seam.install(http_policy),
        ):
            yield Engine(router, boto3.client("stepfunctions", region_name=DEFAULT_REGION))
    finally:
        router.close()


def task_defs(*names: str, **overrides: Any) -> dict[str, TaskDef]:
    """Task definitions with small, fast policies unless overridden."""
    base = {"retryCount": 2, "retryDelaySeconds": 1, "timeoutSeconds": 30, "timeoutPolicy": "TIME_OUT_WF"}
    return {n: TaskDef.model_validate({"name": n, **base, **overrides}) for n in names}


def translate(
    workflow: dict[str, Any],
    defs: Mapping[str, TaskDef],
    others: Mapping[str, WorkflowDef] | None = None,
    options: TranslatorOptions | None = None,
) -> tuple[dict[str, Any], list[Any]]:
    """ASL and diagnostics of one workflow given as a dict."""
    model = WorkflowDef.model_validate(workflow)
    translation = translate_workflow(model, defs, others, options)
    return translation.asl, translation.diagnostics


def run_translated(
    definition: dict[str, Any],
    payloads: Sequence[Any],
    defs: Mapping[str, TaskDef],
    functions: Mapping[str, Callable[[Any, Any], Any]],
) -> list[Execution]:
    """Translate one workflow (refusing on an error diagnostic), deploy it with stub `functions`
    (task name -> handler) and run it once per payload."""
    asl, diagnostics = translate(definition, defs)
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    with engine() as moto:
        for task_name, handler in functions.items():
            moto.function(task_name, handler)
        moto.deploy(definition["name"], json.dumps(asl))
        return [moto.run(definition["name"], payload) for payload in payloads]


def project_translation() -> dict[str, Translation]:
    return translate_project()


__all__ = [
    "Engine",
    "Execution",
    "Project",
    "engine",
    "project_translation",
    "run_translated",
    "task_defs",
    "translate",
]
