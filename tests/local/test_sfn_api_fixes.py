"""`imgpipe serve` answers StopExecution, GetExecutionHistory and RedriveExecution as AWS documents
them (imgpipe/local/sfn_api_fixes.py), through boto3 and the real AWS CLI. Each test fails on moto
5.2.5 alone: a stopped Map ended FAILED (States.Runtime), a stopped task stayed RUNNING, error and
cause were dropped, children ran on, histories went on after the end, history parameters were
ignored and RedriveExecution was an HTML 500 page."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from imgpipe.local import sfn_api_fixes
from imgpipe.local.engine import STATES_ROLE, Handler, default_handler
from imgpipe.local.lambda_seam import MotoInternalsChanged
from imgpipe.local.server import LocalServer
from tests.support.aws_cli import aws

GUARD_SECONDS = 60  # hang guards for waits, not performance thresholds
RESIZE_TASK = "image_convert_resize"
FAILING_WIDTH = 51  # the gated resize fails at once for this width, and waits for the others


class GatedResize:
    """The resize worker waits until released (its result is then dropped), so executions can be
    stopped while their tasks run; every other worker is the real one."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = 0
        self.left = 0
        self._changed = threading.Condition()

    def handler_for(self, task: str) -> Handler:
        if task != RESIZE_TASK:
            return default_handler(task)

        def handler(event: dict[str, Any], context: Any) -> Any:
            with self._changed:
                self.entered += 1
                self._changed.notify_all()
            try:
                if event.get("outputWidth") == FAILING_WIDTH:
                    raise ValueError(f"outputWidth {FAILING_WIDTH}: refused by the test")
                self.release.wait(GUARD_SECONDS)
                raise RuntimeError("released after the test ended its execution")
            finally:
                with self._changed:
                    self.left += 1
                    self._changed.notify_all()

        return handler

    def wait_for(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.entered >= count, GUARD_SECONDS), self.entered

    def wait_until_all_left(self) -> None:
        """Every resize invocation that started has ended (after `release`)."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.left == self.entered, GUARD_SECONDS)


@pytest.fixture
def gate() -> Iterator[GatedResize]:
    gated = GatedResize()
    yield gated
    gated.release.set()


@pytest.fixture
def server(gate: GatedResize) -> Iterator[LocalServer]:
    with LocalServer(port=0, time_scale=1.0, handler_for=gate.handler_for) as running:
        yield running


def _sfn(server: LocalServer) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _arn(server: LocalServer, workflow: str) -> str:
    assert server.info is not None
    return server.info.state_machines[workflow]


def _start(sfn: Any, server: LocalServer, workflow: str, workflow_input: str) -> str:
    arn: str = sfn.start_execution(stateMachineArn=_arn(server, workflow), input=workflow_input)[
        "executionArn"
    ]
    return arn


def _until(condition: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + GUARD_SECONDS
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)
    return value


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


WAITING_MAP = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Wait",
                "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}},
            },
            "End": True,
        }
    },
}


def test_stop_execution_on_a_map_aborts_it_with_error_cause_and_stop_date(
    server: LocalServer, tmp_path: Path
) -> None:
    sfn = _sfn(server)
    machine = sfn.create_state_machine(
        name="waiting-map", definition=json.dumps(WAITING_MAP), roleArn=STATES_ROLE
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"items": [1, 2, 3]}))["executionArn"]
    _until(lambda: sum(e["type"] == "WaitStateEntered" for e in _history(sfn, arn)) == 2)

    stopped = aws(
        server.endpoint_url,
        "stepfunctions",
        "stop-execution",
        "--execution-arn",
        arn,
        "--error",
        "Operator.Cancelled",
        "--cause",
        "stopped from the CLI",
        home=tmp_path,
    ).json()

    assert "stopDate" in stopped
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED"
    assert (described["error"], described["cause"]) == ("Operator.Cancelled", "stopped from the CLI")
    assert described["stopDate"].timestamp() == pytest.approx(stopped["stopDate"], abs=1)
    events = _history(sfn, arn)
    assert events[-1]["type"] == "ExecutionAborted"
    assert events[-1]["executionAbortedEventDetails"] == {
        "error": "Operator.Cancelled",
        "cause": "stopped from the CLI",
    }
    assert not any(e["type"] == "ExecutionFailed" for e in events)


def test_stop_during_a_lambda_task_aborts_at_once_and_drops_its_late_result(
    server: LocalServer, gate: GatedResize
) -> None:
    sfn = _sfn(server)
    recipe = {"outputFormat": "png", "outputSize": {"width": 40, "height": 40}}
    source = "s3://imgpipe-input-local/local-runs/a.png"
    arn = _start(
        sfn, server, "image_convert_resize", json.dumps({"fileLocation": source, "recipeParameters": recipe})
    )
    gate.wait_for(1)

    sfn.stop_execution(executionArn=arn, error="Stop", cause="while the function runs")

    assert not gate.release.is_set()  # the function is still running: the stop did not wait for it
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    before = _history(sfn, arn)
    assert before[-1]["type"] == "ExecutionAborted"
    gate.release.set()
    gate.wait_until_all_left()
    time.sleep(0.2)  # let the engine handle the function's answer (a late event would land now)
    assert _history(sfn, arn) == before  # the function's late end adds nothing after the end
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"


def _fork_input(*widths: int) -> str:
    return json.dumps(
        {
            "fileLocation": "s3://imgpipe-input-local/local-runs/a.png",
            "outputFormats": ["png"],
            "outputSizes": [{"width": width, "height": width} for width in widths],
        }
    )


def _children(sfn: Any, server: LocalServer) -> list[dict[str, Any]]:
    executions: list[dict[str, Any]] = sfn.list_executions(
        stateMachineArn=_arn(server, "image_resize_upload")
    )["executions"]
    return executions


def test_stopping_a_sub_workflow_fork_stops_its_running_children(
    server: LocalServer, gate: GatedResize
) -> None:
    sfn = _sfn(server)
    arn = _start(sfn, server, "image_multiple_convert_resize_upload", _fork_input(40, 60))
    gate.wait_for(2)
    assert [child["status"] for child in _children(sfn, server)] == ["RUNNING", "RUNNING"]

    sfn.stop_execution(executionArn=arn, error="Stop", cause="parent stopped")

    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    children = _children(sfn, server)
    assert [child["status"] for child in children] == ["ABORTED", "ABORTED"]
    for child in children:
        assert _history(sfn, child["executionArn"])[-1]["type"] == "ExecutionAborted"


def test_a_failed_fork_history_ends_at_execution_failed_and_its_other_children_stop(
    server: LocalServer, gate: GatedResize
) -> None:
    sfn = _sfn(server)
    arn = _start(sfn, server, "image_multiple_convert_resize_upload", _fork_input(40, FAILING_WIDTH))
    described = _until(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d)
    assert described["status"] == "FAILED"

    events = _history(sfn, arn)
    assert events[-1]["type"] == "ExecutionFailed"
    statuses = sorted(child["status"] for child in _children(sfn, server))
    assert statuses == ["ABORTED", "FAILED"]  # the waiting child no longer runs for nobody
    gate.release.set()
    _until(
        lambda: all(
            i.duration > 0 for i in server.engine.router.invocations if i.function_name.endswith(RESIZE_TASK)
        )
    )
    assert _history(sfn, arn) == events


def _finished_execution(sfn: Any) -> tuple[str, list[dict[str, Any]]]:
    machine = sfn.create_state_machine(
        name="passes",
        definition=json.dumps(
            {
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Pass", "Result": {"secret": "a"}, "Next": "B"},
                    "B": {"Type": "Pass", "Result": {"secret": "b"}, "End": True},
                },
            }
        ),
        roleArn=STATES_ROLE,
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"secret": "in"}))["executionArn"]
    _until(lambda: sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED")
    return arn, _history(sfn, arn)


def test_get_execution_history_pages_reverses_and_leaves_out_data(
    server: LocalServer, tmp_path: Path
) -> None:
    sfn = _sfn(server)
    arn, events = _finished_execution(sfn)
    assert len(events) == 6  # started, 2 x (entered, exited), succeeded

    first = sfn.get_execution_history(executionArn=arn, maxResults=2)
    assert [e["id"] for e in first["events"]] == [1, 2]
    paged, token = list(first["events"]), first.get("nextToken")
    while token:
        page = sfn.get_execution_history(executionArn=arn, maxResults=2, nextToken=token)
        paged += page["events"]
        token = page.get("nextToken")
    assert paged == events
    assert [e["id"] for e in sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"]] == [
        6,
        5,
        4,
        3,
        2,
        1,
    ]
    without = sfn.get_execution_history(executionArn=arn, includeExecutionData=False)["events"]
    assert "secret" not in json.dumps(without, default=str)
    assert [e["type"] for e in without] == [e["type"] for e in events]

    cli = aws(
        server.endpoint_url,
        "stepfunctions",
        "get-execution-history",
        "--execution-arn",
        arn,
        "--reverse-order",
        "--max-items",
        "3",
        "--page-size",
        "2",
        home=tmp_path,
    ).json()
    assert [e["type"] for e in cli["events"]] == ["ExecutionSucceeded", "PassStateExited", "PassStateEntered"]
    assert cli["NextToken"]  # the CLI's own token over the endpoint's pages


def test_get_execution_history_refuses_bad_arguments_as_aws(server: LocalServer) -> None:
    sfn = _sfn(server)
    arn, _ = _finished_execution(sfn)
    with pytest.raises(ClientError) as too_many:
        sfn.get_execution_history(executionArn=arn, maxResults=1001)
    assert too_many.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as bad_token:
        sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
    assert bad_token.value.response["Error"]["Code"] == "InvalidToken"
    token = sfn.get_execution_history(executionArn=arn, maxResults=1)["nextToken"]
    with pytest.raises(ClientError) as other_order:
        sfn.get_execution_history(executionArn=arn, maxResults=1, nextToken=token, reverseOrder=True)
    assert other_order.value.response["Error"]["Code"] == "InvalidToken"


def test_redrive_execution_answers_a_json_error_not_an_html_page(server: LocalServer, tmp_path: Path) -> None:
    sfn = _sfn(server)
    arn, _ = _finished_execution(sfn)
    with pytest.raises(ClientError) as succeeded:
        sfn.redrive_execution(executionArn=arn)
    assert succeeded.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert succeeded.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "SUCCEEDED" in succeeded.value.response["Error"]["Message"]

    cli = aws(
        server.endpoint_url,
        "stepfunctions",
        "redrive-execution",
        "--execution-arn",
        arn + "-gone",
        home=tmp_path,
    )
    assert cli.returncode != 0
    assert "ExecutionDoesNotExist" in cli.stderr
    assert "<html" not in cli.stderr.lower()


def test_the_patched_moto_names_are_checked() -> None:
    sfn_api_fixes.verify_moto_sfn_api_targets()
    with pytest.raises(MotoInternalsChanged):
        sfn_api_fixes.moto_attribute(sfn_api_fixes.SFN_RESPONSES, "no_such_handler")
