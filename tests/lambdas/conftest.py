"""Fixtures for the worker tests: environment per test (never at import), moto S3, a fake context."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.adapters import s3 as s3_adapter
from tests.support.lambda_context import FakeLambdaContext

EVENTS = Path(__file__).resolve().parent.parent / "events"
SOURCE_BUCKET = "imgpipe-test-uploads"
OUTPUT_BUCKET = "imgpipe-test-renditions"
OUTPUT_PREFIX = "renditions/"
CACHE_CONTROL = "public, max-age=31536000, immutable"


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The function environment of docs/architecture.md, plus fake AWS credentials."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "imgpipe-test",
        "POWERTOOLS_METRICS_NAMESPACE": "imgpipe",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "OUTPUT_PREFIX": OUTPUT_PREFIX,
        "CACHE_CONTROL": CACHE_CONTROL,
        "ALLOWED_URL_HOSTS": "",
        "MAX_SOURCE_BYTES": str(5 * 1024 * 1024),
        "MAX_SOURCE_PIXELS": str(40_000_000),
        "MAX_FRAMES": "50",
        "MAX_OUTPUT_DIMENSION": "4096",
        "MAX_FANOUT": "50",
        "LOCAL_FILES_ROOT": "",
    }
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3(worker_env: dict[str, str]) -> Iterator[Any]:
    """moto S3 with the source and output buckets; the adapter's cached client is dropped around it."""
    import boto3
    from moto import mock_aws

    s3_adapter.reset_client()
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=SOURCE_BUCKET)
        client.create_bucket(Bucket=OUTPUT_BUCKET)
        yield client
    s3_adapter.reset_client()


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


def load_event(name: str, **replacements: Any) -> dict[str, Any]:
    """A real-shaped event from tests/events, with fields overridden for the test at hand."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event.update(replacements)
    return event


def put_source(s3: Any, data: bytes, key: str) -> None:
    s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=data)


def read_object(s3: Any, uri: str) -> tuple[bytes, dict[str, Any]]:
    """The body and GetObject response of an `s3://bucket/key` the worker reported."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    response = s3.get_object(Bucket=bucket, Key=key)
    return response["Body"].read(), response


class WriteCounter:
    """The moto client, with the publish writes (put/copy) counted."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.writes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name in ("put_object", "copy_object"):
            self.writes.append(name)
        return getattr(self.real, name)


@pytest.fixture
def counting(s3: Any, monkeypatch: pytest.MonkeyPatch) -> WriteCounter:
    wrapper = WriteCounter(s3_adapter.client())
    monkeypatch.setattr(s3_adapter, "client", lambda: wrapper)
    return wrapper
