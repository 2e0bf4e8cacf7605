"""Activities: one per SIMPLE task no Lambda worker serves, named `<prefix>-<task>`, filled into the
state machines' definitions; a worker's grant is exactly its activity and its state machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from imgpipe.config import DeploymentConfig
from infra.activities import Activities
from infra.workflows import Workflows
from statemachines.project import load_for_path, translate_all
from statemachines.translator import Diagnostics

pytestmark = pytest.mark.slow

MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:imgpipe-labelled"


def _translated(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "images.json").write_text(
        json.dumps([{"name": "label_image"}, {"name": "score_image"}])
    )
    workflow = {
        "name": "labelled",
        "tasks": [
            {"name": "label_image", "taskReferenceName": "label"},
            {"name": "score_image", "taskReferenceName": "score"},
        ],
    }
    (tmp_path / "labelled.json").write_text(json.dumps(workflow))
    diagnostics = Diagnostics()
    project, names = load_for_path(tmp_path, diagnostics)
    translated, findings = translate_all(project, names=names)
    assert not diagnostics.errors
    assert not [f for f in findings if f.severity == "error"], findings
    return translated


def test_each_activity_task_gets_an_activity_named_after_the_prefix_and_task(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "ActivitiesOnly")
    config = DeploymentConfig()
    translated = _translated(tmp_path)
    activities = Activities(stack, "Activities", config=config, translated=translated)
    worker = iam.Role(stack, "LabelWorker", assumed_by=iam.AccountRootPrincipal())
    machine = sfn.StateMachine.from_state_machine_arn(stack, "Labelled", MACHINE_ARN)
    activities.grant_worker(worker, "label_image", {"labelled": machine})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # synth fails on any unacknowledged finding
    template = Template.from_stack(stack).to_json()
    names = sorted(
        r["Properties"]["Name"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::Activity"
    )
    assert names == ["imgpipe-label_image", "imgpipe-score_image"]
    [policy] = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    label_ref = {"Ref": stack.get_logical_id(activities.activities["label_image"].node.default_child)}
    assert {"Action": "states:GetActivityTask", "Effect": "Allow", "Resource": label_ref} in statements
    assert {
        "Action": ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
        "Effect": "Allow",
        "Resource": MACHINE_ARN,
    } in statements
    assert len(statements) == 2  # nothing else: not the other activity, no wildcard
    app.synth()
    with pytest.raises(KeyError, match="no activity"):
        activities.grant_worker(worker, "image_convert_resize", {"labelled": machine})


def test_the_state_machine_definition_gets_the_activity_arns_and_its_role_no_activity_permission(
    tmp_path: Path,
) -> None:
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "WithWorkflows")
    config = DeploymentConfig()
    translated = _translated(tmp_path)
    activities = Activities(stack, "Activities", config=config, translated=translated)
    workflows = Workflows(
        stack,
        "Workflows",
        config=config,
        translated=translated,
        functions={},
        extra_substitutions=activities.substitutions(),
    )
    template = Template.from_stack(stack).to_json()
    [machine] = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    for task in ("label_image", "score_image"):
        logical_id = stack.get_logical_id(activities.activities[task].node.default_child)
        assert substitutions[f"ActivityArn_{task}"] == {"Ref": logical_id}
    role_id = stack.get_logical_id(workflows.roles["labelled"].node.default_child)
    actions = [
        statement["Action"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert not [a for a in json.dumps(actions).split('"') if "Activity" in a]
