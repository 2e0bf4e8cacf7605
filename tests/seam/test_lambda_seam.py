"""The moto seam: Lambda tasks run in-process, with their own environment, errors and timeouts."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.local.lambda_seam import LambdaRouter, install, verify_moto_internals

ROLE = "arn:aws:iam::123456789012:role/sfn"


class FlakyError(Exception):
    """A retryable failure raised by the test function."""


class PermanentError(Exception):
    """A failure the ASL must not retry."""


def _definition(function_arn: str) -> str:
    return json.dumps(
        {
            "StartAt": "Fan",
            "States": {
                "Fan": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 2,
                    "ItemProcessor": {
                        "StartAt": "Call",
                        "States": {
                            "Call": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::lambda:invoke",
                                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                                "ResultSelector": {"result.$": "$.Payload"},
                                "Retry": [
                                    {"ErrorEquals": ["PermanentError"], "MaxAttempts": 0},
                                    {"ErrorEquals": ["FlakyError"], "IntervalSeconds": 60, "MaxAttempts": 3},
                                ],
                                "End": True,
                            }
                        },
                    },
                    "End": True,
                }
            },
        }
    )


def _run(router: LambdaRouter, items: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        install(router, time_scale=0.0),
    ):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="seam",
            definition=_definition("arn:aws:lambda:us-east-1:123456789012:function:echo"),
            roleArn=ROLE,
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": items}))[
            "executionArn"
        ]
        for _ in range(600):
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                break
            time.sleep(0.05)
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        return described, events


def test_moto_internals_are_where_the_seam_expects_them() -> None:
    verify_moto_internals()


def test_tasks_run_in_process_with_their_own_environment_and_retries_are_counted() -> None:
    attempts: dict[int, int] = {}
    router = LambdaRouter()

    def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
        attempts[event["n"]] = attempts.get(event["n"], 0) + 1
        if event.get("flaky") and attempts[event["n"]] < 3:
            raise FlakyError("try again")
        return {"n": event["n"], "stage": os.environ.get("STAGE"), "fn": context.function_name}

    router.register("echo", echo, environment={"STAGE": "local-test"})
    described, events = _run(router, [{"n": 1}, {"n": 2, "flaky": True}])

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert [item["result"] for item in output] == [
        {"n": 1, "stage": "local-test", "fn": "echo"},
        {"n": 2, "stage": "local-test", "fn": "echo"},
    ]
    assert attempts == {1: 1, 2: 3}
    assert sum(1 for e in events if e["type"] == "TaskFailed") == 2
    assert "STAGE" not in os.environ  # the function's environment never leaks into the process


def test_handler_error_type_becomes_the_step_functions_error_and_is_not_retried() -> None:
    calls: list[int] = []
    router = LambdaRouter()

    def failing(event: dict[str, Any], context: Any) -> None:
        calls.append(1)
        raise PermanentError("outputWidth: must be positive")

    router.register("echo", failing)
    described, _ = _run(router, [{"n": 1}])
    assert described["status"] == "FAILED"
    assert described["error"] == "PermanentError"
    assert "outputWidth" in described["cause"]
    assert calls == [1]


def test_a_handler_over_its_timeout_fails_with_sandbox_timedout() -> None:
    router = LambdaRouter()
    router.register("echo", lambda event, context: time.sleep(2), timeout_seconds=0.2)
    described, _ = _run(router, [{"n": 1}])
    assert described["status"] == "FAILED"
    assert described["error"] == "Sandbox.Timedout"


def test_unknown_function_is_a_lambda_service_error() -> None:
    router = LambdaRouter()
    router.register("other", lambda event, context: {})
    described, _ = _run(router, [{"n": 1}])
    assert described["status"] == "FAILED"
    assert described["error"] == "Lambda.ResourceNotFoundException"


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)


def test_time_waiting_for_a_free_thread_does_not_count_against_the_timeout() -> None:
    """Six 0.5 s invocations on two threads: the last ones wait ~1 s, more than their 1 s timeout,
    yet none of them ran for longer than its timeout, so none may time out."""
    router = LambdaRouter(max_workers=2)
    remaining: list[int] = []

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remaining.append(context.get_remaining_time_in_millis())
        time.sleep(0.5)
        return {"n": event["n"]}

    router.register("echo", slow, timeout_seconds=1.0)
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(
            target=lambda n=n: results.append(
                router.invoke(FunctionName="echo", Payload=json.dumps({"n": n}))
            )
        )
        for n in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    router.close()
    assert [r.get("FunctionError") for r in results] == [None] * 6
    assert sorted(json.loads(r["Payload"].read())["n"] for r in results) == list(range(6))
    assert all(900 <= ms <= 1000 for ms in remaining)  # every handler saw its full budget at start
