"""moto's `startExecution.sync:2` integration, with and without imgpipe's fix, on a minimal
parent/child pair (no project code): the fix must make it behave as AWS documents, and this test
must fail loudly when moto moves what the fix patches or fixes the defect itself."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.local import moto_fixes
from imgpipe.local.lambda_seam import MotoInternalsChanged

ROLE = "arn:aws:iam::123456789012:role/test"
GUARD_SECONDS = 60  # a hang guard, not a performance threshold

CHILD = {
    "StartAt": "Double",
    "States": {
        "Double": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.doubled", "NumericGreaterThan": 100, "Next": "TooBig"}],
            "Default": "Done",
        },
        "TooBig": {"Type": "Fail", "Error": "TooBigError", "Cause": "n is more than 50"},
        "Done": {"Type": "Succeed"},
    },
}


def _parent(child_arn: str) -> dict[str, Any]:
    return {
        "StartAt": "Child",
        "States": {
            "Child": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child_arn, "Name.$": "$.name", "Input.$": "$.payload"},
                "ResultSelector": {
                    "output.$": "$.Output",
                    "status.$": "$.Status",
                    "arn.$": "$.ExecutionArn",
                    "started.$": "$.StartDate",
                },
                "End": True,
            }
        },
    }


@pytest.fixture
def sfn() -> Iterator[Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def _deploy(sfn: Any) -> str:
    child = sfn.create_state_machine(name="child", definition=json.dumps(CHILD), roleArn=ROLE)
    parent = sfn.create_state_machine(
        name="parent", definition=json.dumps(_parent(child["stateMachineArn"])), roleArn=ROLE
    )
    return str(parent["stateMachineArn"])


def _run(sfn: Any, parent_arn: str, n: int) -> dict[str, Any]:
    child_name = f"child-{uuid.uuid4().hex[:8]}"
    arn = sfn.start_execution(
        stateMachineArn=parent_arn, input=json.dumps({"name": child_name, "payload": {"n": n}})
    )["executionArn"]
    deadline = time.monotonic() + GUARD_SECONDS
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "parent execution hangs"
        time.sleep(0.02)
    described["child_name"] = child_name
    return dict(described)


def test_with_the_fix_the_child_result_has_the_aws_shape(sfn: Any) -> None:
    with moto_fixes.install():
        parent_arn = _deploy(sfn)
        described = _run(sfn, parent_arn, 21)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["output"] == {"doubled": 42}  # Output is JSON, not a string (sync:2)
    assert output["status"] == "SUCCEEDED"
    assert output["arn"].endswith(f":child:{described['child_name']}")  # the Name parameter was used
    assert isinstance(output["started"], int)  # epoch milliseconds, as AWS returns them
    child = sfn.describe_execution(executionArn=output["arn"])
    assert json.loads(child["input"]) == {"n": 21}


def test_with_the_fix_a_failed_child_fails_the_task_with_its_error_in_the_cause(sfn: Any) -> None:
    with moto_fixes.install():
        parent_arn = _deploy(sfn)
        described = _run(sfn, parent_arn, 51)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    cause = json.loads(described["cause"])
    assert cause["Status"] == "FAILED"
    assert cause["Error"] == "TooBigError"


def _map_parent(child_arn: str) -> dict[str, Any]:
    """A Map whose iterations each start the child; Catch on States.TaskFailed, as AWS allows."""
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Child",
                    "States": {
                        "Child": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::states:startExecution.sync:2",
                            "Parameters": {"StateMachineArn": child_arn, "Input.$": "$"},
                            "ResultSelector": {"output.$": "$.Output"},
                            "End": True,
                        }
                    },
                },
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.caught", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def test_with_the_fix_a_failed_child_in_a_map_fails_the_map_with_states_task_failed(sfn: Any) -> None:
    with moto_fixes.install():
        child = sfn.create_state_machine(name="child", definition=json.dumps(CHILD), roleArn=ROLE)
        parent = sfn.create_state_machine(
            name="map-parent", definition=json.dumps(_map_parent(child["stateMachineArn"])), roleArn=ROLE
        )
        arn = sfn.start_execution(
            stateMachineArn=parent["stateMachineArn"], input=json.dumps({"items": [{"n": 1}, {"n": 60}]})
        )["executionArn"]
        deadline = time.monotonic() + GUARD_SECONDS
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "parent execution hangs"
            time.sleep(0.02)
    assert described["status"] == "SUCCEEDED", described  # caught by the Catch on States.TaskFailed
    caught = json.loads(described["output"])["caught"]
    assert caught["Error"] == "States.TaskFailed"
    assert "TooBigError" in caught["Cause"]


def test_without_the_fix_moto_still_fails_so_the_fix_is_still_needed(sfn: Any) -> None:
    """If this fails, moto normalises the integration itself: drop imgpipe.local.moto_fixes."""
    parent_arn = _deploy(sfn)
    described = _run(sfn, parent_arn, 21)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "StateMachineArn" in described["cause"]  # the request-side casing defect


def test_the_check_fails_loudly_when_moto_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_fixes.verify_moto_fix_targets()
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    monkeypatch.delattr(StateTaskService, "_from_boto_response")
    with pytest.raises(MotoInternalsChanged, match="_from_boto_response"):
        moto_fixes.verify_moto_fix_targets()


def test_with_the_fix_executions_started_without_a_name_get_distinct_uuid_names(sfn: Any) -> None:
    with moto_fixes.install():
        machine = sfn.create_state_machine(name="child", definition=json.dumps(CHILD), roleArn=ROLE)
        arns = {
            sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"n": 1}')["executionArn"]
            for _ in range(2)
        }
    assert len(arns) == 2
    for arn in arns:
        assert uuid.UUID(arn.rsplit(":", 1)[1])


def _parse_while_another_parser_is_inside_a_jsonata_scope() -> str | None:
    """Parse a JSONPath definition while another parser (another execution's) is mid-parse inside
    a JSONata scope; the parse error, or None."""
    from moto.stepfunctions.parser.asl.component.common.query_language import (
        QueryLanguage,
        QueryLanguageMode,
    )
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    definition = {
        "StartAt": "Format",
        "States": {
            "Format": {"Type": "Pass", "Parameters": {"x.$": "States.Format('{}', $.n)"}, "End": True}
        },
    }
    other = Preprocessor()
    scopes = other._query_language_per_scope
    before = list(scopes)
    scopes.append(QueryLanguage(query_language_mode=QueryLanguageMode.JSONata))
    try:
        AmazonStateLanguageParser.parse(json.dumps(definition))
    except ValueError as error:
        return str(error)
    finally:
        scopes[:] = before  # a failed parse leaves its own scopes behind too (the shared list, unfixed)
    return None


def test_with_the_fix_concurrent_parsers_do_not_share_their_query_language_scopes() -> None:
    with moto_fixes.install():
        assert _parse_while_another_parser_is_inside_a_jsonata_scope() is None


def test_without_the_fix_moto_parsers_share_one_scope_stack() -> None:
    """If this fails, moto's Preprocessor keeps its scopes per instance: drop that part of the fix."""
    error = _parse_while_another_parser_is_inside_a_jsonata_scope()
    assert error is not None
    assert "QueryLanguage" in error


START_TIME = {
    "StartAt": "Stamp",
    "States": {"Stamp": {"Type": "Pass", "Parameters": {"started.$": "$$.Execution.StartTime"}, "End": True}},
}


def _stamped_execution(sfn: Any) -> str:
    """Starts START_TIME and waits for it to end (ListExecutions: DescribeExecution reads the output)."""
    machine = sfn.create_state_machine(name="stamp", definition=json.dumps(START_TIME), roleArn=ROLE)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    deadline = time.monotonic() + GUARD_SECONDS
    while sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"][0]["status"] == (
        "RUNNING"
    ):
        assert time.monotonic() < deadline, "execution hangs"
        time.sleep(0.02)
    return str(arn)


def test_with_the_fix_the_execution_start_time_is_the_iso_8601_text_aws_gives(sfn: Any) -> None:
    with moto_fixes.install():
        described = sfn.describe_execution(executionArn=_stamped_execution(sfn))
    assert described["status"] == "SUCCEEDED", described
    started = json.loads(described["output"])["started"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", started), started
    # the same instant as the execution's own start date, to the millisecond
    assert started == moto_fixes.aws_timestamp(described["startDate"])


def test_without_the_fix_a_start_time_in_the_output_breaks_describe_execution(sfn: Any) -> None:
    """If this fails, moto's context object holds AWS's text: drop that part of the fix."""
    arn = _stamped_execution(sfn)
    with pytest.raises(TypeError, match="datetime"):
        sfn.describe_execution(executionArn=arn)


def test_aws_timestamps_are_utc_with_milliseconds() -> None:
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 12, 1, 18, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    assert moto_fixes.aws_timestamp(moment) == "2026-12-01T16:04:05.678Z"
    assert moto_fixes.aws_timestamp(moment.replace(tzinfo=None)) == "2026-12-01T18:04:05.678Z"


# Step Functions reads a backslash before ' { } or itself in an intrinsic's string literal as that
# character (intrinsic_escapes.py); each literal below needs one of them, or a character outside ASCII.
ESCAPED_LITERALS = {
    "quote": ("States.Format('it\\'s {}', $.name)", "it's Ana"),
    "braces": ("States.Format('\\{{}\\} \\\\ end', $.name)", "{Ana} \\ end"),
    "json": ('States.StringToJson(\'\\{"k\\\'s": [1, "\\{\\}"]\\}\')', {"k's": [1, "{}"]}),
    # json.dumps writes é as \u00e9, which moto read as u00e9 (also fixed); a newline stays one
    "accent": ("States.Format('café {}\n', $.name)", "café Ana\n"),
}


def _escaped_output(sfn: Any) -> Any:
    parameters = {f"{key}.$": expression for key, (expression, _) in ESCAPED_LITERALS.items()}
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": parameters, "End": True}}}
    machine = sfn.create_state_machine(name="escapes", definition=json.dumps(definition), roleArn=ROLE)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"name": "Ana"}')[
        "executionArn"
    ]
    deadline = time.monotonic() + GUARD_SECONDS
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution hangs"
        time.sleep(0.02)
    return described


def test_with_the_fix_escaped_characters_of_intrinsic_literals_stand_for_themselves(sfn: Any) -> None:
    with moto_fixes.install():
        described = _escaped_output(sfn)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {key: value for key, (_, value) in ESCAPED_LITERALS.items()}


def test_without_the_fix_moto_misreads_escaped_intrinsic_literals(sfn: Any) -> None:
    """If this fails, moto reads the escapes as Step Functions does: drop intrinsic_escapes.py."""
    try:
        described = _escaped_output(sfn)
    except sfn.exceptions.ClientError:
        return  # moto refuses the definition
    expected = {key: value for key, (_, value) in ESCAPED_LITERALS.items()}
    assert described["status"] != "SUCCEEDED" or json.loads(described["output"]) != expected
