"""Uploads start the configured workflow: S3 -> EventBridge rule -> Step Functions.

Only the input bucket publishes to EventBridge and the rule names that bucket, so renditions
(written to the output bucket) can never start another execution.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe.config import DeploymentConfig

TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = Duration.hours(6)
DLQ_RETENTION = Duration.days(14)


def _escape_wildcard(text: str) -> str:
    """EventBridge `wildcard` treats `*` as a wildcard and `\\` as its escape."""
    return text.replace("\\", "\\\\").replace("*", "\\*")


def key_patterns(config: DeploymentConfig) -> list[dict[str, str]]:
    """`<prefix>*<suffix>` for each image suffix, in lower and upper case (cameras write IMG_0001.JPG).

    EventBridge cannot AND a prefix and a suffix filter on one field; a wildcard does both.
    """
    suffixes: list[str] = []
    for suffix in config.inputSuffixes:
        for variant in (suffix.lower(), suffix.upper()):
            if variant not in suffixes:
                suffixes.append(variant)
    prefix = _escape_wildcard(config.inputPrefix)
    return [{"wildcard": f"{prefix}*{_escape_wildcard(suffix)}"} for suffix in suffixes]


def upload_event_pattern(config: DeploymentConfig, bucket_name: str) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.s3"],
        detail_type=["Object Created"],
        detail={"bucket": {"name": [bucket_name]}, "object": {"key": key_patterns(config)}},
    )


def execution_input(config: DeploymentConfig) -> dict[str, Any]:
    """The seeds' dynamic-fork input: the uploaded object plus the default recipe from context."""
    bucket = events.EventField.from_path("$.detail.bucket.name")
    key = events.EventField.from_path("$.detail.object.key")
    recipe = config.defaultRecipe.model_dump(mode="json")
    return {"fileLocation": f"s3://{bucket}/{key}", **recipe}


class UploadTrigger(Construct):
    """EventBridge rule on Object Created in the input bucket, with a DLQ and a retry policy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        input_bucket: s3.IBucket,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{config.prefix}-trigger-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        self.rule = events.Rule(
            self,
            "UploadRule",
            rule_name=f"{config.prefix}-upload-trigger",
            description=f"Start {config.state_machine_name(config.triggerWorkflow)} for new uploads",
            event_pattern=upload_event_pattern(config, input_bucket.bucket_name),
        )
        self.rule.add_target(
            targets.SfnStateMachine(
                state_machine,
                input=events.RuleTargetInput.from_object(execution_input(config)),
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=TARGET_RETRY_ATTEMPTS,
                max_event_age=TARGET_MAX_EVENT_AGE,
            )
        )
