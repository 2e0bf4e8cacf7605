"""A new engine inside an outer moto mock starts with no claims. In its own module: test_envelope's
module-scoped engine (one per process at a time) must not be running beside it."""

from __future__ import annotations

import json

from imgpipe.config import DeploymentConfig
from imgpipe.local.engine import LocalAws
from tests.local.test_envelope import _jpeg, _upload, _wait


def test_a_new_engine_inside_an_outer_mock_starts_with_no_claims() -> None:
    """Sequencers restart per engine, so claims left by an earlier engine would make duplicates."""
    from moto import mock_aws

    with mock_aws():
        for _ in range(2):
            with LocalAws(DeploymentConfig.from_cdk_json(), time_scale=0.0) as local:
                delivery = _upload(local, "uploads/again.jpg", _jpeg())
                described = _wait(local, delivery.execution_arn)
                assert described["status"] == "SUCCEEDED", described.get("cause")
                assert "duplicate" not in json.loads(described["output"])
                assert local.failed_sources_queue_url is not None
                sqs = local.client("sqs")
                attributes = sqs.get_queue_attributes(
                    QueueUrl=local.failed_sources_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]
                assert attributes["ApproximateNumberOfMessages"] == "0"
                sqs.send_message(QueueUrl=local.failed_sources_queue_url, MessageBody="{}")  # left behind
