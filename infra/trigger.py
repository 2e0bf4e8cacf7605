"""Uploads start the configured workflow: S3 -> EventBridge rule -> Step Functions.

Only the input bucket publishes to EventBridge and the rule names that bucket, so renditions
(written to the output bucket) can never start another execution.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe import trigger
from imgpipe.config import DeploymentConfig
from infra.retention import retain_data_store

# EventBridge's longest retry of a failed StartExecution (throttled, open-execution quota, 5xx): 185
# attempts over 24 hours with exponential back-off and jitter, the maxima of a target's RetryPolicy
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html,
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html); then the DLQ.
TARGET_RETRY_ATTEMPTS = 185
TARGET_MAX_EVENT_AGE = Duration.hours(24)
DLQ_RETENTION = Duration.days(14)


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
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        self.rule = events.Rule(
            self,
            "UploadRule",
            rule_name=f"{config.prefix}-upload-trigger",
            description=f"Start {config.state_machine_name(config.triggerWorkflow)} for new uploads",
            # Placeholder so the L2 construct validates; the real pattern is set below.
            event_pattern=events.EventPattern(source=[trigger.EVENT_SOURCE]),
        )
        self.rule.add_target(
            targets.SfnStateMachine(
                state_machine,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=TARGET_RETRY_ATTEMPTS,
                max_event_age=TARGET_MAX_EVENT_AGE,
            )
        )
        # The pattern and the input transformer come from imgpipe.trigger, the one description the
        # local runtime applies to its events too (CDK's L2 EventPattern cannot express `$or`).
        cfn_rule = self.rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        pattern = trigger.event_pattern(config, input_bucket.bucket_name)
        trigger.check_pattern(pattern)  # synth refuses what EventBridge would read differently
        cfn_rule.add_property_override("EventPattern", pattern)
        cfn_rule.add_property_override("Targets.0.InputTransformer", trigger.input_transformer(config))
        # Undelivered uploads outlive the stack (generated name, so the next deploy makes its own).
        retain_data_store(self.dead_letter_queue, config)
