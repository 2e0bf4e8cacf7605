"""The S3 adapter's error mapping and URI parsing: every botocore failure leaves as a typed error."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    IncompleteReadError,
    ResponseStreamingError,
)

from lambdas.adapters import s3 as s3_adapter
from lambdas.core.errors import (
    SourceNotFoundError,
    SourceRefusedError,
    StorageThrottledError,
    TransientSourceError,
)
from tests.lambdas.conftest import SOURCE_BUCKET
from tests.support import images


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetObject")


@pytest.mark.parametrize(
    "error",
    [
        ResponseStreamingError(error="Connection broken: IncompleteRead(10 bytes read)"),
        EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com"),
        IncompleteReadError(actual_bytes=10, expected_bytes=20),
        BotoCoreError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_transport_failures_are_transient_and_retryable(error: Exception) -> None:
    typed = s3_adapter.typed_error(error, "fileLocation", "s3://b/k.jpg")
    assert isinstance(typed, TransientSourceError)
    assert typed.retryable is True
    assert typed.field == "fileLocation"
    assert type(error).__name__ in typed.problem


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("SlowDown", 503, StorageThrottledError),
        ("NoSuchKey", 404, SourceNotFoundError),
        ("AccessDenied", 403, SourceNotFoundError),
        ("InternalError", 500, TransientSourceError),
        ("InvalidRequest", 400, SourceRefusedError),
    ],
)
def test_s3_answers_map_to_the_contract_names(code: str, status: int, expected: type[Exception]) -> None:
    assert type(s3_adapter.typed_error(_client_error(code, status), "fileLocation", "s3://b/k")) is expected


def test_other_exceptions_are_not_disguised() -> None:
    with pytest.raises(ValueError, match="not botocore"):
        s3_adapter.typed_error(ValueError("not botocore"), "fileLocation", "s3://b/k")


class _BrokenBody:
    def read(self, amount: int | None = None) -> bytes:
        raise ResponseStreamingError(error="Connection broken: IncompleteRead")

    def close(self) -> None:
        pass


class _CutShortClient:
    """The moto client whose object bodies break while being read."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        response = dict(self.real.get_object(**kwargs))
        response["Body"] = _BrokenBody()
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_body_cut_short_while_reading_is_a_transient_error(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=SOURCE_BUCKET, Key="uploads/a.jpg", Body=images.jpeg_photo(32, 24))
    broken = _CutShortClient(s3_adapter.client())
    monkeypatch.setattr(s3_adapter, "client", lambda: broken)
    location = s3_adapter.S3Location(SOURCE_BUCKET, "uploads/a.jpg")
    with pytest.raises(TransientSourceError, match="ResponseStreamingError") as raised:
        s3_adapter.get_object(location, max_bytes=1_000_000)
    assert raised.value.field == "fileLocation"


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/key.jpg\n",
        "s3://bucket/key\nother.jpg",
        "\ns3://bucket/key.jpg",
        "s3://bucket/",
        "s3://B/k",
    ],
)
def test_malformed_s3_uris_are_refused(uri: str) -> None:
    with pytest.raises(SourceRefusedError, match="not a valid s3://bucket/key URI") as raised:
        s3_adapter.parse_s3_uri(uri, "fileLocation")
    assert raised.value.field == "fileLocation"


def test_a_well_formed_s3_uri_is_split() -> None:
    assert s3_adapter.parse_s3_uri("s3://my.bucket-1/a/b c+d.jpg") == s3_adapter.S3Location(
        "my.bucket-1", "a/b c+d.jpg"
    )
