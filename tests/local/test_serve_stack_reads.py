"""What the emulated stack shows through `imgpipe serve`, read with the real AWS CLI as a user would:
the worker functions (ListFunctions was empty), the input bucket's EventBridge notifications (read
back empty), and a PutEvents entry matching the upload trigger (an HTML 500 page) starting the
trigger workflow as the S3 event does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imgpipe import trigger
from imgpipe.config import WORKER_TASKS, function_environment
from imgpipe.local import eventbridge_seam, s3_event_seam
from imgpipe.local.engine import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, lambda_timeout_seconds
from imgpipe.local.lambda_seam import MotoInternalsChanged
from imgpipe.local.server import LocalServer
from tests.support.aws_cli import aws

GUARD_SECONDS = 60  # a hang guard, not a performance threshold


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(port=0, time_scale=0.0) as running:
        yield running


def _cli(server: LocalServer, tmp_path: Path, *argv: str) -> Any:
    return aws(server.endpoint_url, *argv, home=tmp_path).json()


def test_list_functions_shows_the_worker_functions_as_deployed(server: LocalServer, tmp_path: Path) -> None:
    listed = {f["FunctionName"]: f for f in _cli(server, tmp_path, "lambda", "list-functions")["Functions"]}
    config = server.engine.config
    assert sorted(listed) == sorted(config.function_name(task) for task in WORKER_TASKS)
    for task in WORKER_TASKS:
        function = listed[config.function_name(task)]
        assert function["FunctionArn"] == server.engine.deployment.function_arns[task]
        assert function["Handler"] == f"lambdas.{task}.handler.handler"
        assert (function["Runtime"], function["Architectures"]) == (LAMBDA_RUNTIME, [LAMBDA_ARCHITECTURE])
        assert function["MemorySize"] == config.memorySize[task]
        assert function["Timeout"] == lambda_timeout_seconds(task)
        assert function["Environment"]["Variables"] == function_environment(
            task, config, output_bucket=server.engine.deployment.output_bucket
        )


def test_lambda_invoke_runs_the_worker_and_answers_its_error_as_lambda(
    server: LocalServer, tmp_path: Path
) -> None:
    config = server.engine.config
    planner = config.function_name("image_multiple_convert_resize")
    event = {
        "fileLocation": "s3://imgpipe-input-local/local-runs/a.png",
        "outputFormats": ["png"],
        "outputSizes": [{"width": 10, "height": 10}],
    }
    out = tmp_path / "out.json"

    def invoke(payload: Any) -> tuple[Any, Any]:
        argv = ("lambda", "invoke", "--function-name", planner, "--payload", json.dumps(payload), str(out))
        return _cli(server, tmp_path, *argv), json.loads(out.read_text())

    answer, plan = invoke(event)
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert [item["input"]["outputWidth"] for item in plan["dynamicForkItems"]] == [10]

    refused, error = invoke({"outputFormats": 3})
    assert (refused["StatusCode"], refused["FunctionError"]) == (200, "Unhandled")
    assert error["errorType"]


def test_the_local_runtime_and_architecture_are_the_deployed_ones() -> None:
    from infra.bundling import LAMBDA_PLATFORM

    assert LAMBDA_PLATFORM.runtime.name == LAMBDA_RUNTIME
    assert LAMBDA_PLATFORM.architecture.name == LAMBDA_ARCHITECTURE


def test_the_input_bucket_reads_back_its_eventbridge_notifications(
    server: LocalServer, tmp_path: Path
) -> None:
    assert server.info is not None
    read = _cli(
        server,
        tmp_path,
        "s3api",
        "get-bucket-notification-configuration",
        "--bucket",
        server.info.input_bucket,
    )
    assert read == {"EventBridgeConfiguration": {}}
    output = server.info.output_bucket
    read_output = aws(
        server.endpoint_url,
        "s3api",
        "get-bucket-notification-configuration",
        "--bucket",
        output,
        home=tmp_path,
    )
    assert (read_output.returncode, read_output.stdout.strip()) == (0, "")  # none: renditions never trigger


def test_put_events_matching_the_trigger_starts_the_trigger_workflow(
    server: LocalServer, tmp_path: Path
) -> None:
    assert server.info is not None
    engine = server.engine
    key = f"{engine.config.inputPrefix}notes.txt"  # not an image: the envelope ends it at once
    event = trigger.object_created_event(
        bucket=server.info.input_bucket,
        key=key,
        size=5,
        etag="0123456789abcdef0123456789abcdef",
        sequencer="00000000000000FF",
        version_id=None,
        region=engine.region,
        account="123456789012",
        reason="PutObject",
    )
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
    }
    answer = _cli(server, tmp_path, "events", "put-events", "--entries", json.dumps([entry]))

    assert answer["FailedEntryCount"] == 0
    machine = server.info.state_machines[engine.config.triggerWorkflow]
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        executions = _cli(
            server, tmp_path, "stepfunctions", "list-executions", "--state-machine-arn", machine
        )
        if executions["executions"] and executions["executions"][0]["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline, executions
        time.sleep(0.05)
    [execution] = executions["executions"]
    assert execution["status"] == "SUCCEEDED"
    described = _cli(
        server, tmp_path, "stepfunctions", "describe-execution", "--execution-arn", execution["executionArn"]
    )
    assert json.loads(described["output"])["notAnImage"]
    delivered = [d for d in engine.trigger_deliveries if d.event["id"] == answer["Entries"][0]["EventId"]]
    assert [d.execution_arn for d in delivered] == [execution["executionArn"]]


def test_put_events_not_matching_the_trigger_starts_nothing(server: LocalServer, tmp_path: Path) -> None:
    entry = {"Source": "my.app", "DetailType": "Something", "Detail": json.dumps({"a": 1})}
    before = len(server.engine.trigger_deliveries)
    answer = _cli(server, tmp_path, "events", "put-events", "--entries", json.dumps([entry]))
    assert answer["FailedEntryCount"] == 0
    assert [d.matched for d in server.engine.trigger_deliveries[before:]] == [False]


def test_the_patched_moto_names_are_checked() -> None:
    eventbridge_seam.verify_moto_events_internals()
    s3_event_seam.verify_moto_s3_internals()
    with pytest.raises(MotoInternalsChanged):
        eventbridge_seam.moto_attribute(eventbridge_seam.EVENTS_MODELS, "NoSuchModel")
