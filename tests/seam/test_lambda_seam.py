"""The moto seam: Lambda tasks run in worker processes, with their own environment, errors and timeouts."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.local import moto_fixes
from imgpipe.local.lambda_seam import LambdaRouter, install, verify_moto_internals

ROLE = "arn:aws:iam::123456789012:role/sfn"
WORKERS = "tests.support.seam_workers"


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
    # moto_fixes too: moto's parsers share one QueryLanguage scope stack, which another test's
    # parse (JSONata) can leave dirty in this process; the local engine always installs the fix
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        install(router, time_scale=0.0),
        moto_fixes.install(),
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


def test_tasks_run_in_a_worker_process_with_their_own_environment_and_retries_are_counted() -> None:
    router = LambdaRouter()
    router.register("echo", f"{WORKERS}.echo", environment={"STAGE": "local-test"}, max_environments=1)
    try:
        described, events = _run(router, [{"n": 1}, {"n": 2, "flaky": True}])
    finally:
        router.close()

    assert described["status"] == "SUCCEEDED", described
    results = [item["result"] for item in json.loads(described["output"])]
    assert [(r["n"], r["stage"], r["fn"], r["region"]) for r in results] == [
        (1, "local-test", "echo", "us-east-1"),
        (2, "local-test", "echo", "us-east-1"),
    ]
    # one environment, warm: the same process served every attempt, and it kept its module state
    assert {r["pid"] for r in results} != {os.getpid()}
    assert len({r["pid"] for r in results}) == 1
    assert [r["calls"] for r in results] == [1, 3]
    assert sum(1 for e in events if e["type"] == "TaskFailed") == 2
    assert "STAGE" not in os.environ  # the function's environment never reaches this process
    assert router.pool("echo").started == 1


def test_handler_error_type_becomes_the_step_functions_error_and_is_not_retried() -> None:
    router = LambdaRouter()
    router.register("echo", f"{WORKERS}.failing")
    try:
        described, _ = _run(router, [{"n": 1}])
    finally:
        router.close()
    assert described["status"] == "FAILED"
    assert described["error"] == "PermanentError"
    assert "outputWidth" in described["cause"]
    assert [(i.error_type, i.logs) for i in router.invocations] == [("PermanentError", "about to fail\n")]


def test_a_handler_over_its_timeout_is_killed_and_fails_with_sandbox_timedout() -> None:
    router = LambdaRouter()
    router.register("echo", f"{WORKERS}.sleepy", timeout_seconds=0.5)
    try:
        first = router.invoke(FunctionName="echo", Payload=json.dumps({"seconds": 30}))
        second = router.invoke(FunctionName="echo", Payload=json.dumps({"seconds": 0}))
    finally:
        router.close()
    payload = json.loads(first["Payload"].read())
    assert first["FunctionError"] == "Unhandled"
    assert payload == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 0.50 seconds"}
    # the timed-out environment was stopped: the next invocation is a cold start in a new process
    assert "FunctionError" not in second
    assert router.pool("echo").started == 2
    assert [i.cold_start for i in router.invocations] == [True, True]


def _invoke_once(handler: str) -> dict[str, Any]:
    """One invocation of a fresh function whose handler string is `handler`; its payload."""
    router = LambdaRouter()
    router.register("echo", handler)
    try:
        payload: dict[str, Any] = json.loads(
            router.invoke(FunctionName="echo", Payload="{}")["Payload"].read()
        )
        return payload
    finally:
        router.close()


def test_a_process_that_dies_is_a_runtime_exit_error() -> None:
    assert _invoke_once(f"{WORKERS}.exits") == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "Runtime exited with error: exit status 3",
    }


def test_a_handler_that_cannot_be_imported_is_runtime_import_module_error() -> None:
    payload = _invoke_once(f"{WORKERS}.no_such_handler")
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_handler" in payload["errorMessage"]


def test_a_callable_handler_over_its_timeout_fails_with_sandbox_timedout() -> None:
    router = LambdaRouter()
    router.register("echo", lambda event, context: time.sleep(2), timeout_seconds=0.2)
    described, _ = _run(router, [{"n": 1}])
    assert described["status"] == "FAILED"
    assert described["error"] == "Sandbox.Timedout"


def test_a_callable_handler_gets_no_environment_of_its_own() -> None:
    with pytest.raises(ValueError, match="handler string"):
        LambdaRouter().register("echo", lambda event, context: {}, environment={"STAGE": "x"})


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


def test_time_waiting_for_a_free_environment_does_not_count_against_the_timeout() -> None:
    """Six 0.5 s invocations on two worker processes: the last ones wait ~1 s, more than their 1 s
    timeout, yet none of them ran for longer than its timeout, so none may time out."""
    router = LambdaRouter()
    router.register("echo", f"{WORKERS}.echo", timeout_seconds=3.0, max_environments=2)
    router.register("sleepy", f"{WORKERS}.sleepy", timeout_seconds=1.0, max_environments=2)
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                router.invoke(FunctionName="sleepy", Payload=json.dumps({"seconds": 0.5}))
            )
        )
        for _ in range(6)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        remaining = json.loads(router.invoke(FunctionName="echo", Payload="{}")["Payload"].read())
    finally:
        router.close()
    assert [r.get("FunctionError") for r in results] == [None] * 6
    assert len({json.loads(r["Payload"].read())["pid"] for r in results}) == 2  # two warm environments
    assert router.pool("sleepy").started == 2
    assert 2000 <= remaining["remainingMs"] <= 3000  # a handler sees its full budget at its start
