"""What survives `cdk destroy`, and why the next deploy of the same prefix never collides with it.

Data (uploads, renditions, access logs, undelivered trigger events) and logs are retained by
default (`imgpipe:removalPolicy` "retain"). CloudFormation leaves a `DeletionPolicy: Retain`
resource in place when the stack is deleted, and a custom-named resource keeps its name: the next
stack that creates the same name fails with "already exists". So a retained resource never has a
fixed physical name. Buckets and queues get names CloudFormation generates; log groups, whose
readable names operators search for, end in the stack instance's id (new for every stack creation,
unchanged by updates). What is deleted with the stack (functions, state machines, the rule, roles,
alarms, the dashboard) keeps its readable fixed name: nothing of it is left to collide with.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import Annotations, Aws, CfnDeletionPolicy, CfnResource, Fn, IAspect, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from imgpipe.config import DeploymentConfig

# CloudWatch Logs accepts only these retention periods (days -> CDK enum member).
_RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class InvalidLogRetentionError(ValueError):
    """imgpipe:logRetentionDays is not a period CloudWatch Logs supports."""


def log_retention(days: int) -> logs.RetentionDays:
    try:
        return _RETENTION_BY_DAYS[days]
    except KeyError:
        raise InvalidLogRetentionError(
            f"imgpipe:logRetentionDays: {days} is not a CloudWatch Logs retention; "
            f"use one of {sorted(_RETENTION_BY_DAYS)}"
        ) from None


def removal_policy(config: DeploymentConfig) -> RemovalPolicy:
    """RETAIN unless the deployer explicitly asked for a throw-away stack."""
    return RemovalPolicy.DESTROY if config.removalPolicy == "destroy" else RemovalPolicy.RETAIN


def stack_instance_id() -> str:
    """The UUID at the end of `AWS::StackId`: a new one for every stack creation (so after a
    destroy), the same for every update of one stack (so no replacement on update)."""
    return Fn.select(2, Fn.split("/", Aws.STACK_ID))


def owned_log_group(
    scope: Construct, construct_id: str, *, name_prefix: str, config: DeploymentConfig
) -> logs.LogGroup:
    """A log group with the deployment's retention and removal policy, created by the stack before
    the function or state machine that writes to it (no never-expiring implicit group).

    Named `<name_prefix>/<stack instance id>`: a group retained by a destroyed stack keeps its
    events until they expire and never blocks the next deploy of the same prefix. The function
    (LoggingConfig) or state machine (LoggingConfiguration) is pointed at this name, so nothing
    depends on the service's default `/aws/lambda/<function>` name.
    """
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=f"{name_prefix}/{stack_instance_id()}",
        retention=log_retention(config.logRetentionDays),
        removal_policy=removal_policy(config),
    )


def retain_data_store(store: s3.Bucket | sqs.Queue, config: DeploymentConfig) -> None:
    """Apply the deployment's removal policy to a bucket or queue and to its resource policy, so a
    retained store keeps its SSL-only and access statements after the stack is gone.

    Call it after everything that adds statements to the store's policy (targets, access logs)."""
    policy = removal_policy(config)
    store.apply_removal_policy(policy)
    for child in store.node.children:
        if isinstance(child, s3.BucketPolicy | sqs.QueuePolicy):
            child.apply_removal_policy(policy)


# The L1 attribute that names a resource of each type physically (CloudFormation template reference:
# BucketName, QueueName, LogGroupName, TableName, TopicName).
PHYSICAL_NAME_ATTRIBUTE: dict[str, str] = {
    "AWS::S3::Bucket": "bucket_name",
    "AWS::SQS::Queue": "queue_name",
    "AWS::Logs::LogGroup": "log_group_name",
    "AWS::DynamoDB::Table": "table_name",
    "AWS::SNS::Topic": "topic_name",
}
_SURVIVES_DELETION = (CfnDeletionPolicy.RETAIN, CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE)


@jsii.implements(IAspect)
class RetainedNamesAreUnique:
    """Synth error for a resource that survives stack deletion under a fixed name: the next deploy
    of the stack would fail on it with "already exists"."""

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_options.deletion_policy not in _SURVIVES_DELETION:
            return
        attribute = PHYSICAL_NAME_ATTRIBUTE.get(node.cfn_resource_type)
        # L2 constructs pass an unset name as a token that resolves to None.
        name = Stack.of(node).resolve(getattr(node, attribute, None)) if attribute else None
        if name is None or "AWS::StackId" in json.dumps(name):
            return
        Annotations.of(node).add_error(
            f"{node.cfn_resource_type} {json.dumps(name)} is retained when the stack is deleted and "
            "has a fixed name, so the next deploy would fail with 'already exists': leave the name to "
            "CloudFormation or end it with infra.retention.stack_instance_id()"
        )
