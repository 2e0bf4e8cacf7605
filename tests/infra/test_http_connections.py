"""HTTP tasks' EventBridge connections: one per authentication the workflows use, credentials read
from Secrets Manager by reference only, and a role that may call exactly its endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from imgpipe.config import DeploymentConfig, HttpConnection
from infra.http_connections import HttpConnections
from infra.nag import XRAY_REASON
from infra.workflows import Workflows
from statemachines.project import load_for_path, translate_all
from statemachines.translator import Diagnostics

pytestmark = pytest.mark.slow


def http(ref: str, uri: str, **headers: str) -> dict[str, Any]:
    request = {"uri": uri, "method": "GET", "headers": headers}
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "HTTP",
        "inputParameters": {"http_request": request},
    }


def _translated(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "none.json").write_text("[]")
    workflow = {
        "name": "calls",
        "tasks": [
            http("open_call", "https://api.example.com/status"),
            http(
                "partner_call", "https://partner.example.com/orders/${workflow.input.id}", Authorization="x"
            ),
        ],
    }
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "calls.json").write_text(json.dumps(workflow))
    (tmp_path / "translator.json").write_text(
        json.dumps({"http_connections": {"calls.partner_call": "partner"}})
    )
    diagnostics = Diagnostics()
    project, names = load_for_path(tmp_path / "workflows", diagnostics)
    translated, findings = translate_all(project, names=names)
    assert not diagnostics.errors, diagnostics.errors
    assert not [f for f in findings if f.severity == "error"], findings
    return translated


def test_each_connection_is_created_with_its_authorization_and_the_role_calls_only_its_endpoints(
    tmp_path: Path,
) -> None:
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "HttpOnly")
    config = DeploymentConfig(
        httpConnections={"partner": HttpConnection(authorization="API_KEY", secretName="partner/api-key")}
    )
    translated = _translated(tmp_path)
    assert translated["calls"].http_connections == {"default", "partner"}
    connections = HttpConnections(stack, "HttpConnections", config=config, translated=translated)
    subs = connections.substitutions()
    workflows = Workflows(
        stack, "Workflows", config=config, translated=translated, functions={}, extra_substitutions=subs
    )
    connections.grant(workflows.roles["calls"], "calls")
    machine = workflows.state_machines["calls"]
    # what every state machine of the stack has, acknowledged there (infra/nag.py): nothing else may appear
    Validations.of(machine.role).acknowledge(
        Acknowledgment(id="AwsSolutions-IAM5[Resource::*]", reason=XRAY_REASON)
    )
    Validations.of(machine).acknowledge(Acknowledgment(id="AwsSolutions-SF1", reason="the stack's log level"))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # synth fails on any unacknowledged finding
    template = Template.from_stack(stack).to_json()
    found = {
        r["Properties"]["Name"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Connection"
    }
    assert sorted(found) == ["imgpipe-default", "imgpipe-partner"]
    assert found["imgpipe-partner"]["AuthorizationType"] == "API_KEY"
    partner_key = found["imgpipe-partner"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert partner_key["ApiKeyName"] == "Authorization"
    # a dynamic reference CloudFormation resolves: the key itself is never in the template
    assert "{{resolve:secretsmanager:partner/api-key:SecretString:apiKey::}}" in json.dumps(partner_key)
    assert found["imgpipe-default"]["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"] == (
        "x-imgpipe-connection"
    )
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    [invoke] = [s for s in statements if s["Action"] == "states:InvokeHTTPEndpoint"]
    assert invoke["Condition"] == {
        "StringLike": {
            "states:HTTPEndpoint": ["https://api.example.com/status", "https://partner.example.com/orders/*"]
        }
    }
    assert "stateMachine:imgpipe-calls" in json.dumps(invoke["Resource"])
    [retrieve] = [s for s in statements if s["Action"] == "events:RetrieveConnectionCredentials"]
    assert len(retrieve["Resource"]) == 2
    [machine_props] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    filled = machine_props["DefinitionSubstitutions"]
    assert {"ConnectionArn_default", "ConnectionArn_partner"} <= set(filled)
    assert "partner/api-key" not in json.dumps(machine_props)  # the definition names no secret
    app.synth()


def test_a_credential_connection_without_its_secret_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="secretName"):
        DeploymentConfig.model_validate({"httpConnections": {"partner": {"authorization": "BASIC"}}})


def test_without_http_tasks_no_connection_is_created(tmp_path: Path) -> None:
    stack = Stack(App(outdir=str(tmp_path / "out")), "NoHttp")
    connections = HttpConnections(stack, "HttpConnections", config=DeploymentConfig(), translated={})
    assert connections.connections == {}
    assert Template.from_stack(stack).to_json().get("Resources") is None
