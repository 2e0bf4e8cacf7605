"""The moto internals the activity seam relies on are where it expects them, and moto still needs it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import boto3
import pytest
from moto import mock_aws

from imgpipe.local import activity_seam
from imgpipe.local.lambda_seam import MotoInternalsChanged

GUARD_SECONDS = 30  # a hang guard, not a performance threshold
ROLE = "arn:aws:iam::123456789012:role/seam-test"


def test_moto_activity_internals_are_where_the_seam_expects_them() -> None:
    activity_seam.verify_moto_activity_internals()


def _drop_parser_activity_get_task(monkeypatch: pytest.MonkeyPatch) -> str:
    import moto.stepfunctions.parser.backend.activity as module

    monkeypatch.delattr(module.Activity, "get_task")
    return "get_task"


def _drop_execution_activity_store(monkeypatch: pytest.MonkeyPatch) -> str:
    import moto.stepfunctions.parser.models as module

    class Execution:
        def __init__(self, name: str) -> None:
            self.name = name

    monkeypatch.setattr(module, "Execution", Execution)
    return "activity_store"


def _drop_task_start_notification(monkeypatch: pytest.MonkeyPatch) -> str:
    import moto.stepfunctions.parser.asl.eval.callback.callback as module

    monkeypatch.delattr(module.ActivityCallbackEndpoint, "notify_activity_task_start")
    return "notify_activity_task_start"


def _drop_backend_executions(monkeypatch: pytest.MonkeyPatch) -> str:
    import moto.stepfunctions.parser.models as module

    monkeypatch.delattr(module.StepFunctionsParserBackend, "_get_executions")
    return "_get_executions"


@pytest.mark.parametrize(
    "move",
    [
        _drop_parser_activity_get_task,
        _drop_execution_activity_store,
        _drop_task_start_notification,
        _drop_backend_executions,
    ],
)
def test_the_check_fails_loudly_when_moto_moves(
    monkeypatch: pytest.MonkeyPatch, move: Callable[[pytest.MonkeyPatch], str]
) -> None:
    moved = move(monkeypatch)
    with pytest.raises(MotoInternalsChanged, match=moved):
        activity_seam.verify_moto_activity_internals()


def _run_one_activity(with_seam: bool) -> dict[str, str]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_activity(name="seam-probe")["activityArn"]
        definition = {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": arn, "End": True}}}
        machine = sfn.create_state_machine(name="probe", definition=json.dumps(definition), roleArn=ROLE)
        if with_seam:
            with activity_seam.install(long_poll_seconds=GUARD_SECONDS):
                execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
                task = sfn.get_activity_task(activityArn=arn)
                sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"done": True}))
                return _wait(sfn, execution["executionArn"])
        execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
        return _wait(sfn, execution["executionArn"])


def _wait(sfn: object, arn: str) -> dict[str, str]:
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        described = sfn.describe_execution(executionArn=arn)  # type: ignore[attr-defined]
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(described)
        time.sleep(0.02)


def test_moto_alone_cannot_run_an_activity_and_the_seam_can() -> None:
    """Fails when moto gives executions its activities itself: the seam's store is then redundant."""
    alone = _run_one_activity(with_seam=False)
    assert (alone["status"], alone.get("error")) == ("FAILED", "States.Runtime")
    seamed = _run_one_activity(with_seam=True)
    assert (seamed["status"], json.loads(seamed["output"])) == ("SUCCEEDED", {"done": True})


def test_an_empty_poll_returns_no_token_after_the_long_poll() -> None:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_activity(name="idle")["activityArn"]
        with activity_seam.install(long_poll_seconds=0.05):
            assert not sfn.get_activity_task(activityArn=arn).get("taskToken")
            with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
                sfn.get_activity_task(activityArn=arn.replace(":idle", ":absent"))
