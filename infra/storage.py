"""Buckets: uploads in, renditions out, and the server access logs of both.

SSE-S3 rather than KMS: renditions are meant to be served (CDN/presigned URLs) and a customer key
would add a per-request KMS cost and a kms:Decrypt grant to every reader without protecting
against anything S3-managed keys do not already cover for this data. Deployers who need KMS can
switch `encryption` here; the workers only use plain GetObject/PutObject.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from imgpipe.config import DeploymentConfig
from infra.retention import removal_policy, retain_data_store


class Storage(Construct):
    """Input bucket (versioned, publishes to EventBridge), output bucket, access-log bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        policy = removal_policy(config)
        auto_delete = policy == RemovalPolicy.DESTROY
        common: dict[str, Any] = {
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "minimum_tls_version": 1.2,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "removal_policy": policy,
            "auto_delete_objects": auto_delete,
        }
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365))],
            **common,
        )
        self.input_bucket = s3.Bucket(
            self,
            "Input",
            versioned=True,
            event_bridge_enabled=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="input/",
            lifecycle_rules=[
                # Versioning protects uploads from overwrites; old versions need not live forever.
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            **common,
        )
        # No EventBridge notifications here: nothing the workers write can ever start a workflow.
        self.output_bucket = s3.Bucket(
            self,
            "Output",
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="output/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
                )
            ],
            **common,
        )
        # Generated names (no bucket_name): a retained bucket never blocks the next deploy.
        for bucket in (self.access_logs, self.input_bucket, self.output_bucket):
            retain_data_store(bucket, config)
