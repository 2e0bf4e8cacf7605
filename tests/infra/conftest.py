"""One synthesis of the real app per test session (synth takes seconds), shared by every infra test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from imgpipe.config import CDK_JSON, DeploymentConfig
from infra.application import build
from infra.stack import ImgpipeStack


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: ImgpipeStack
    template: Template
    resources: dict[str, dict[str, Any]]
    outdir: Path
    config: DeploymentConfig
    translated: dict[str, Any]
    project: Any

    def logical_id(self, construct: Any) -> str:
        return Stack.of(self.stack).get_logical_id(construct.node.default_child)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def queue_policy_statements(self, queue: Any) -> list[dict[str, Any]]:
        """Every statement of the resource policies attached to ``queue``."""
        return self._statements("AWS::SQS::QueuePolicy", "Queues", queue)

    def role_policy_statements(self, role: Any) -> list[dict[str, Any]]:
        """Every statement of the IAM policies attached to ``role``."""
        return self._statements("AWS::IAM::Policy", "Roles", role)

    def _statements(self, policy_type: str, attached_to: str, construct: Any) -> list[dict[str, Any]]:
        ref = {"Ref": self.logical_id(construct)}
        return [
            statement
            for policy in self.of_type(policy_type).values()
            if ref in policy["Properties"][attached_to]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


def synthesize(outdir: Path, overrides: dict[str, Any] | None = None) -> Synthesized:
    """Exactly what `cdk synth` runs: cdk.json context (+ `-c` style overrides), build(app), synth."""
    from imgpipe import envelope
    from statemachines.project import load_project

    context = json.loads(CDK_JSON.read_text())["context"] | (overrides or {})
    app = App(context=context, outdir=str(outdir))
    stack = build(app)
    assembly = app.synth()
    template_json = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(
        app=app,
        stack=stack,
        template=Template.from_json(template_json),
        resources=template_json["Resources"],
        outdir=outdir,
        config=stack.config,
        translated=envelope.translate_for_deployment(stack.config),
        project=load_project(),
    )


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synth_destroy(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A throw-away deployment (`-c imgpipe:removalPolicy=destroy`), the other mode that changes resources."""
    return synthesize(tmp_path_factory.mktemp("cdk.out.destroy"), {"imgpipe:removalPolicy": "destroy"})


@pytest.fixture(scope="session")
def synth_conductor_api(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The deployment with Conductor's REST API (`-c imgpipe:conductorApi=true`); nag runs on it too."""
    return synthesize(tmp_path_factory.mktemp("cdk.out.conductor"), {"imgpipe:conductorApi": True})


# Two workflows beside the project's, for what no project workflow uses yet: a HUMAN task (the
# Conductor API's task updates) and EVENT tasks with an `sqs:` sink (the queue the stack creates).
CALLBACK_AND_SINK_WORKFLOWS: tuple[dict[str, Any], ...] = (
    {
        "name": "review_upload",
        "tasks": [
            {"name": "review", "taskReferenceName": "review_ref", "type": "HUMAN"},
            {
                "name": "notify",
                "taskReferenceName": "notify_ref",
                "type": "EVENT",
                "inputParameters": {"sink": "sqs:renditions-ready_v1", "verdict": "${review_ref.output.ok}"},
            },
        ],
    },
    {
        "name": "announce_upload",
        "tasks": [
            {
                "name": "announce",
                "taskReferenceName": "announce_ref",
                "type": "EVENT",
                "inputParameters": {"sink": "sqs:renditions-ready_v1", "key": "${workflow.input.key}"},
            }
        ],
    },
)


@pytest.fixture(scope="session")
def synth_callbacks_and_sinks(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The project plus CALLBACK_AND_SINK_WORKFLOWS, with Conductor's REST API; nag runs on it too."""
    from dataclasses import replace

    import statemachines.project
    from statemachines.translator.model import WorkflowDef

    project = statemachines.project.load_project()
    extra = {w["name"]: WorkflowDef.model_validate(w) for w in CALLBACK_AND_SINK_WORKFLOWS}
    extended = replace(project, workflows={**project.workflows, **extra})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(statemachines.project, "load_project", lambda *args, **kwargs: extended)
        return synthesize(tmp_path_factory.mktemp("cdk.out.callbacks"), {"imgpipe:conductorApi": True})
