"""The HTTP Task seam's reach into moto, checked so that a moto upgrade fails here, by name."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from imgpipe.local import http_seam
from imgpipe.local.lambda_seam import MotoInternalsChanged
from lambdas.adapters import fetch

ROLE = "arn:aws:iam::123456789012:role/seam-test"
GUARD_POLLS = 1500  # a hang guard (30 s at 20 ms), not a performance threshold
HTTP_STATE = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {
                "ApiEndpoint": "https://127.0.0.1/x",
                "Method": "GET",
                "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/c/1"},
            },
            "End": True,
        }
    },
}


def test_moto_http_internals_are_where_the_seam_expects_them() -> None:
    http_seam.verify_moto_http_internals()


def test_the_check_fails_loudly_when_moto_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_factory as factory

    monkeypatch.delattr(factory, "state_task_service_for")
    with pytest.raises(MotoInternalsChanged, match="state_task_service_for"):
        http_seam.verify_moto_http_internals()


def test_without_the_seam_moto_refuses_an_http_task_and_with_it_runs_one() -> None:
    """What the seam is for: moto's parser knows no `http` service (if the first half starts to
    fail, moto has its own HTTP Task and the seam should be reconsidered)."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        with pytest.raises(ClientError, match="http"):
            sfn.create_state_machine(name="h", definition=json.dumps(HTTP_STATE), roleArn=ROLE)
        with http_seam.install():
            arn = sfn.create_state_machine(name="h", definition=json.dumps(HTTP_STATE), roleArn=ROLE)[
                "stateMachineArn"
            ]
            execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
            for _ in range(GUARD_POLLS):
                described = sfn.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING":
                    break
                time.sleep(0.02)
    # the endpoint is loopback: refused by the SSRF rules, never connected to
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Http.Socket"
    assert "loopback" in described["cause"]


@pytest.mark.parametrize(
    ("endpoint", "query", "url"),
    [
        ("https://a.example.com/p", None, "https://a.example.com/p"),
        (
            "https://a.example.com/p",
            {"q": "x y", "tag": ["b", "c"]},
            "https://a.example.com/p?q=x+y&tag=b&tag=c",
        ),
        ("https://a.example.com/p?k=1", {"n": 2}, "https://a.example.com/p?k=1&n=2"),
    ],
)
def test_query_parameters_are_appended_to_the_endpoint(endpoint: str, query: dict | None, url: str) -> None:
    assert http_seam.endpoint_url(endpoint, query) == url


def test_a_json_response_body_is_parsed_and_any_other_kept_as_text() -> None:
    json_answer = fetch.Answer(
        200, "OK", {"Content-Type": ["application/json; charset=utf-8"]}, b'{"a": [1]}'
    )
    text_answer = fetch.Answer(200, "OK", {"Content-Type": ["text/plain"]}, b'{"a": [1]}')
    assert http_seam.task_result(json_answer)["ResponseBody"] == {"a": [1]}
    assert http_seam.task_result(text_answer)["ResponseBody"] == '{"a": [1]}'
    assert "ResponseBody" not in http_seam.task_result(fetch.Answer(204, "No Content", {}, b""))
