"""The backfill construct: the one Distributed Map definition, deployed as is, with a least-privilege
role, cdk-nag AwsSolutions clean (its own acknowledgements, each for one exact resource)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks

from imgpipe.config import CDK_JSON, RENDER_ALL_TASK, DeploymentConfig, backfill_definition
from infra.backfill import Backfill
from infra.storage import Storage
from statemachines.backfill import REPORT_BUCKET_PLACEHOLDER

pytestmark = pytest.mark.slow

WORKER_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:imgpipe-{RENDER_ALL_TASK}"


def _synth(tmp_path: Path, **overrides: Any) -> tuple[dict[str, Any], DeploymentConfig]:
    config = DeploymentConfig.from_cdk_json().model_copy(update=overrides)
    app = App(context=json.loads(CDK_JSON.read_text())["context"], outdir=str(tmp_path))
    stack = Stack(app, "BackfillTest")
    storage = Storage(stack, "Storage", config=config)
    worker = lambda_.Function.from_function_arn(stack, "RenderWorker", WORKER_ARN)
    Backfill(stack, "Backfill", config=config, storage=storage, render_worker=worker)
    for construct in stack.node.children:  # Storage's; the real stack acknowledges it in infra/nag.py
        if construct.node.id.startswith("BucketNotificationsHandler"):
            Validations.of(construct).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    reason="CDK's own bucket-notification custom resource, as in infra/nag.py.",
                )
            )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    assembly = app.synth()  # raises on any unacknowledged AwsSolutions finding
    return assembly.get_stack_by_name("BackfillTest").template, config


def _of_type(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of the backfill role's policies (the only role Step Functions assumes here)."""
    (role_id,) = [
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role"
        and r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "states.amazonaws.com"}
    ]
    return [
        statement
        for policy in _of_type(template, "AWS::IAM::Policy")
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_deploys_exactly_the_generated_definition(tmp_path: Path) -> None:
    template, config = _synth(tmp_path)
    (machine,) = _of_type(template, "AWS::StepFunctions::StateMachine")
    props = machine["Properties"]
    assert props["DefinitionString"] == backfill_definition(config).asl_json
    assert set(props["DefinitionSubstitutions"]) == {
        f"LambdaArn_{RENDER_ALL_TASK}",
        REPORT_BUCKET_PLACEHOLDER,
    }
    assert props["DefinitionSubstitutions"][f"LambdaArn_{RENDER_ALL_TASK}"] == WORKER_ARN
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == config.state_machine_name("backfill")
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == config.stateMachineLogLevel
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is config.stateMachineLogExecutionData
    asl = json.loads(props["DefinitionString"])
    backfill = asl["States"]["Backfill"]
    assert backfill["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert backfill["MaxConcurrency"] == config.backfillMaxConcurrency
    assert backfill["ItemBatcher"]["MaxItemsPerBatch"] == config.backfillItemsPerBatch
    assert backfill["ToleratedFailurePercentage"] == config.backfillToleratedFailurePercentage
    assert backfill["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert backfill["ResultWriter"]["Parameters"]["Prefix"] == config.backfillReportPrefix.rstrip("/")


def test_role_is_least_privilege(tmp_path: Path) -> None:
    template, config = _synth(tmp_path)
    statements = _statements(template)
    granted = set().union(*(_actions(s) for s in statements))
    assert granted == {
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        "lambda:InvokeFunction",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
        # X-Ray and the CloudWatch Logs delivery APIs, which CDK adds for tracing and logging
        *{a for s in statements for a in _actions(s) if a.startswith(("xray:", "logs:"))},
    }
    by_action = {a: s for s in statements for a in _actions(s)}
    start = json.dumps(by_action["states:StartExecution"]["Resource"])
    assert f"stateMachine:{config.state_machine_name('backfill')}" in start  # itself only
    assert by_action["lambda:InvokeFunction"]["Resource"] == WORKER_ARN
    writer = json.dumps(by_action["s3:PutObject"]["Resource"])
    assert f"/{config.backfillReportPrefix}*" in writer  # the report prefix, nothing else
    assert "s3:GetObject" in _actions(by_action["s3:PutObject"])  # GetObject only with the writer's grant
    for statement in statements:
        if statement["Resource"] == "*":
            assert all(a.startswith(("xray:", "logs:")) for a in _actions(statement)), statement


def test_the_inventory_reader_adds_read_access_to_the_input_bucket_only(tmp_path: Path) -> None:
    template, _ = _synth(tmp_path, backfillItemReader="inventory")
    (machine,) = _of_type(template, "AWS::StepFunctions::StateMachine")
    reader = json.loads(machine["Properties"]["DefinitionString"])["States"]["Backfill"]["ItemReader"]
    assert reader["ReaderConfig"] == {"InputType": "MANIFEST"}
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    readers = [s for s in _statements(template) if _actions(s) == {"s3:GetObject"}]
    assert len(readers) == 1
    assert "Input" in json.dumps(readers[0]["Resource"])
