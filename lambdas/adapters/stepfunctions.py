"""The Step Functions client of the Conductor API function, built on first use and reused across
warm invocations (as Lambda recommends); `reset_client()` drops it, for tests that switch mocks."""

from __future__ import annotations

from typing import Any

_client: Any = None


def client() -> Any:
    """boto3 Step Functions client with bounded retries: every call must fit API Gateway's 30 s
    integration timeout (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html)."""
    global _client  # noqa: PLW0603 - one client per process
    if _client is None:
        import boto3
        from botocore.config import Config

        _client = boto3.client(
            "stepfunctions",
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=3,
                read_timeout=10,
                user_agent_extra="imgpipe-conductor-api",
            ),
        )
    return _client


def reset_client() -> None:
    global _client  # noqa: PLW0603
    _client = None
