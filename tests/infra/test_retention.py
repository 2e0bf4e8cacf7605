"""deploy -> destroy -> deploy with the default removal policy: what survives has no fixed name,
data (buckets, the trigger DLQ) survives, and the next stack creates its own resources."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from aws_cdk import App, Aspects, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Annotations, Match
from moto import mock_aws

from infra.retention import RetainedNamesAreUnique

pytestmark = pytest.mark.slow

REGION = "eu-west-1"
# The resource types a retained resource may have, and the property that names each physically
# (CloudFormation template reference); None: the type has no name of its own.
PHYSICAL_NAME_PROPERTY: dict[str, str | None] = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::S3::BucketPolicy": None,
    "AWS::SQS::Queue": "QueueName",
    "AWS::SQS::QueuePolicy": None,
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::KMS::Key": None,
}
STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/imgpipe/{uuid}"
FIRST, SECOND = "2dea6d51-e90f-4933-b900-39ae7ef8df42", "9f1c0a77-1b2e-4c3d-8e4f-5a6b7c8d9e0f"
# Step Functions' CloudWatchLogsLogGroup.logGroupArn is at most 256 characters (API reference).
MAX_LOG_GROUP_ARN = 256
LONGEST_ARN_PREFIX = "arn:aws-us-gov:logs:ap-southeast-7:123456789012:log-group:"


def _retained(resources: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v.get("DeletionPolicy", "Delete") != "Delete"}


def _render(node: Any, stack_id: str) -> Any:
    """Evaluate the intrinsics a physical name may use, for one stack instance."""
    if isinstance(node, str):
        return node
    (function, argument), *rest = node.items()
    assert not rest, node
    if function == "Ref" and argument == "AWS::StackId":
        return stack_id
    if function == "Fn::Join":
        return argument[0].join(_render(part, stack_id) for part in argument[1])
    if function == "Fn::Split":
        return _render(argument[1], stack_id).split(argument[0])
    if function == "Fn::Select":
        return _render(argument[1], stack_id)[int(argument[0])]
    raise AssertionError(f"a physical name uses {function}: {node}")


def _log_group_names(synth: Any, uuid: str) -> dict[str, str]:
    return {
        logical_id: _render(group["Properties"]["LogGroupName"], STACK_ID.format(uuid=uuid))
        for logical_id, group in synth.of_type("AWS::Logs::LogGroup").items()
    }


def test_no_retained_resource_has_a_fixed_physical_name(synth):
    retained = _retained(synth.resources)
    assert {"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup"} <= {
        r["Type"] for r in retained.values()
    }
    for logical_id, resource in retained.items():
        assert resource["Type"] in PHYSICAL_NAME_PROPERTY, (
            f"{logical_id} ({resource['Type']}) survives a stack deletion: add its name property here"
        )
        name_property = PHYSICAL_NAME_PROPERTY[resource["Type"]]
        name = resource["Properties"].get(name_property) if name_property else None
        if name is not None:
            assert _render(name, STACK_ID.format(uuid=FIRST)) != _render(
                name, STACK_ID.format(uuid=SECOND)
            ), f"{logical_id} keeps the name {name!r} from one stack instance to the next"


def test_data_and_its_access_policies_are_retained(synth):
    stores = {
        **synth.of_type("AWS::S3::Bucket"),
        **synth.of_type("AWS::S3::BucketPolicy"),
        **synth.of_type("AWS::SQS::Queue"),
        **synth.of_type("AWS::SQS::QueuePolicy"),
    }
    assert len(synth.of_type("AWS::S3::Bucket")) == 3
    for logical_id, store in stores.items():
        assert (store["DeletionPolicy"], store["UpdateReplacePolicy"]) == ("Retain", "Retain"), logical_id
    dlq = synth.resources[synth.logical_id(synth.stack.trigger.dead_letter_queue)]
    assert dlq["DeletionPolicy"] == "Retain"
    assert "QueueName" not in dlq["Properties"]


def test_log_groups_are_named_per_stack_instance(synth):
    first, second = _log_group_names(synth, FIRST), _log_group_names(synth, SECOND)
    machines = len(synth.stack.workflows.state_machines) + 1  # the translated workflows and the backfill
    assert len(first) == len(synth.stack.workers.functions) + machines
    assert not set(first.values()) & set(second.values()), "a redeploy would reuse a retained name"
    for task, function in synth.stack.workers.functions.items():
        props = synth.resources[synth.logical_id(function)]["Properties"]
        group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert first[group_id] == f"/aws/lambda/{synth.config.function_name(task)}/{FIRST}"
    for name, machine in synth.stack.workflows.state_machines.items():
        props = synth.resources[synth.logical_id(machine)]["Properties"]
        group_arn = props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
        group_name = first[group_arn["Fn::GetAtt"][0]]
        assert group_name == f"/aws/vendedlogs/states/{synth.config.state_machine_name(name)}/{FIRST}"
        assert len(f"{LONGEST_ARN_PREFIX}{group_name}:*") <= MAX_LOG_GROUP_ARN


def _retained_stores_template(synth: Any) -> dict[str, Any]:
    """The retained buckets, queues and log groups, as CloudFormation (moto) would create them."""
    kinds = ("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup")
    return {
        "Resources": {
            k: copy.deepcopy(v) for k, v in _retained(synth.resources).items() if v["Type"] in kinds
        }
    }


def _physical_ids(cfn: Any, resource_type: str, logical_id: str | None = None) -> list[str]:
    resources = cfn.describe_stack_resources(StackName="imgpipe")["StackResources"]
    return [
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == resource_type and logical_id in (None, r["LogicalResourceId"])
    ]


def test_deploy_destroy_deploy_keeps_the_dead_letters(synth):
    template = json.dumps(_retained_stores_template(synth))
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        logs = boto3.client("logs", region_name=REGION)
        cfn.create_stack(StackName="imgpipe", TemplateBody=template)
        dlq_id = synth.logical_id(synth.stack.trigger.dead_letter_queue)
        (dlq,) = _physical_ids(cfn, "AWS::SQS::Queue", dlq_id)
        first_groups = set(_physical_ids(cfn, "AWS::Logs::LogGroup"))
        sqs.send_message(QueueUrl=dlq, MessageBody='{"detail-type": "Object Created"}')

        cfn.delete_stack(StackName="imgpipe")
        cfn.create_stack(StackName="imgpipe", TemplateBody=template)

        assert cfn.describe_stacks(StackName="imgpipe")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        (new_dlq,) = _physical_ids(cfn, "AWS::SQS::Queue", dlq_id)
        assert new_dlq != dlq
        (kept,) = sqs.receive_message(QueueUrl=dlq)["Messages"]
        assert json.loads(kept["Body"]) == {"detail-type": "Object Created"}
        second_groups = set(_physical_ids(cfn, "AWS::Logs::LogGroup"))
        existing = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
        assert first_groups | second_groups <= existing
        assert not first_groups & second_groups


def test_control_fixed_log_group_names_collide_on_redeploy(synth):
    """What the stack did before: `/aws/lambda/<function>`-style fixed names, retained."""
    template = _retained_stores_template(synth)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Logs::LogGroup":
            name = resource["Properties"]["LogGroupName"]
            resource["Properties"]["LogGroupName"] = name["Fn::Join"][1][0].rstrip("/")
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName="imgpipe", TemplateBody=json.dumps(template))
        cfn.delete_stack(StackName="imgpipe")
        with pytest.raises(Exception, match="already exists"):
            cfn.create_stack(StackName="imgpipe", TemplateBody=json.dumps(template))


def test_destroy_mode_retains_nothing(synth_destroy):
    assert _retained(synth_destroy.resources) == {}


def test_synth_reports_no_retained_fixed_name(synth):
    assert Annotations.from_stack(synth.stack).find_error("*", Match.any_value()) == []


@pytest.mark.parametrize("name", ["/aws/lambda/fixed", None])
def test_synth_refuses_a_retained_fixed_name(name):
    """Control: the same check on a stack that keeps a fixed-name log group, and one without a name."""
    stack = Stack(App(), "Control")
    logs.LogGroup(stack, "Kept", log_group_name=name, removal_policy=RemovalPolicy.RETAIN)
    Aspects.of(stack).add(RetainedNamesAreUnique())
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("already exists"))
    assert len(errors) == (1 if name else 0)
