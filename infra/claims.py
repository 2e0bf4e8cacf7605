"""What the trigger envelope (imgpipe.envelope) writes to: the claim table and the failed-sources queue.

Names are left to CloudFormation, so a table or queue kept by the Retain removal policy never
blocks the next deploy of the same prefix.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from imgpipe import envelope
from imgpipe.config import DeploymentConfig
from infra.retention import retain_data_store
from infra.storage import removal_policy

FAILED_SOURCES_RETENTION = Duration.days(14)  # the SQS maximum


class TriggerClaims(Construct):
    """The DynamoDB claim table (one item per S3 write) and the encrypted failed-sources queue."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        policy = removal_policy(config)
        self.table = dynamodb.Table(
            self,
            "Claims",
            partition_key=dynamodb.Attribute(name=envelope.CLAIM_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=envelope.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=policy,
        )
        self.failed_sources_queue = sqs.Queue(
            self,
            "FailedSources",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILED_SOURCES_RETENTION,
        )
        retain_data_store(self.failed_sources_queue, config)  # the queue and its SSL-only policy
        Validations.of(self.failed_sources_queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter store of failed trigger runs; nothing consumes "
                "it automatically, so a DLQ of it would only move the same records elsewhere.",
            )
        )

    def substitutions(self) -> dict[str, str]:
        """The envelope's definition-substitution values."""
        return {
            envelope.CLAIM_TABLE_PLACEHOLDER: self.table.table_name,
            envelope.FAILED_SOURCES_QUEUE_PLACEHOLDER: self.failed_sources_queue.queue_url,
        }

    def grant_envelope(self, role: iam.IGrantable) -> None:
        """Exactly what the envelope calls: PutItem/UpdateItem on the table, SendMessage on the queue."""
        self.table.grant(role, "dynamodb:PutItem", "dynamodb:UpdateItem")
        self.failed_sources_queue.grant_send_messages(role)
