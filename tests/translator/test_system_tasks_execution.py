"""Conductor system tasks (NOOP, WAIT, HUMAN, ...) translated and executed by moto's Step Functions
engine, with Conductor's results: what each task outputs and what the workflow then sees."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from imgpipe.cli import main
from imgpipe.commands.complete import TaskNotWaiting, complete_task, waiting_task_token
from statemachines.translator.wait import duration_seconds, until_timestamp
from tests.translator.harness import EXECUTION_GUARD_SECONDS, Engine, engine, task_defs, translate

pytestmark = pytest.mark.slow


def echo(event: Any, _context: Any) -> Any:
    return {"received": event}


def simple(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": "echo", "taskReferenceName": ref, "type": "SIMPLE", "inputParameters": inputs}


def system(kind: str, ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": kind, "inputParameters": inputs}


def accepted(definition: dict[str, Any]) -> dict[str, Any]:
    asl, diagnostics = translate(definition, task_defs("echo"))
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    return asl


def refusals(definition: dict[str, Any]) -> list[tuple[str, str]]:
    _, diagnostics = translate(definition, task_defs("echo"))
    return [(d.location, d.message) for d in diagnostics if d.severity == "error"]


def deployed(runtime: Engine, definition: dict[str, Any]) -> str:
    runtime.function("echo", echo)
    return runtime.deploy(definition["name"], json.dumps(accepted(definition)))


def finished(runtime: Engine, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + EXECUTION_GUARD_SECONDS
    while True:
        described = runtime.client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.02)


def waiting_for(runtime: Engine, definition: dict[str, Any], payload: Any, ref: str) -> str:
    """Starts an execution and returns its ARN once task `ref` waits for its token."""
    arn = deployed(runtime, definition)
    execution = runtime.client.start_execution(
        stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(payload)
    )["executionArn"]
    deadline = time.monotonic() + EXECUTION_GUARD_SECONDS
    while True:
        try:
            waiting_task_token(runtime.client, execution, ref)
            return execution
        except TaskNotWaiting:
            assert time.monotonic() < deadline, f"{ref} never waited"
            time.sleep(0.02)


# --- NOOP ----------------------------------------------------------------------------------------
def test_noop_completes_with_an_empty_output_and_the_workflow_goes_on() -> None:
    definition = {
        "name": "noop",
        "tasks": [
            system("NOOP", "nothing", ignored="${workflow.input.x}"),
            simple("t", x="${workflow.input.x}"),
        ],
        "outputParameters": {"noop": "${nothing.output}", "t": "${t.output}"},
    }
    with engine() as runtime:
        deployed(runtime, definition)
        result = runtime.run("noop", {"x": 7})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"noop": {}, "t": {"received": {"x": 7}}}
    assert result.count("TaskScheduled") == 1


def test_a_final_noop_makes_the_workflow_output_empty() -> None:
    definition = {"name": "noop_last", "tasks": [simple("t", x=1), system("NOOP", "nothing")]}
    with engine() as runtime:
        deployed(runtime, definition)
        result = runtime.run("noop_last", {})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {}


# --- WAIT with a duration or until -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m 30s", 90), ("2 minutes", 120), ("1d 2h 3m 4s", 93784), ("3 HRS", 10800),
     ("1 day 1 second", 86401)],
)  # fmt: skip
def test_durations_read_as_conductor_reads_them(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["30s 1m", "5", "1 week", "1.5h", "10 s s"])
def test_durations_conductor_rejects_are_refused_by_name(text: str) -> None:
    assert duration_seconds(text) is None
    problems = refusals({"name": "w", "tasks": [system("WAIT", "pause", duration=text)]})
    assert [location for location, _ in problems] == ["tasks[0].inputParameters.duration"]
    assert "pause" in problems[0][1]
    assert repr(text) in problems[0][1]


def test_until_formats_are_conductors_and_zones_are_applied() -> None:
    assert until_timestamp("2026-12-01 10:00 UTC") == ("2026-12-01T10:00:00Z", True)
    assert until_timestamp("2026-12-01 10:00 GMT+02:00") == ("2026-12-01T08:00:00Z", True)
    assert until_timestamp("2026-12-01 10:00") == ("2026-12-01T10:00:00Z", False)
    assert until_timestamp("2026-12-01") == ("2026-12-01T00:00:00Z", False)
    for text in ("2026-12-01T10:00:00Z", "2026-13-01", "2026-12-01 10:00 PST", "tomorrow"):
        assert until_timestamp(text) is None, text


def test_wait_duration_and_until_execute_and_output_nothing() -> None:
    definition = {
        "name": "timed",
        "tasks": [
            system("WAIT", "pause", duration="1m 30s"),
            system("WAIT", "until", until="2020-01-01 00:00 UTC"),
            simple("t", after="${pause.output}"),
        ],
        "outputParameters": {"t": "${t.output.received}", "until": "${until.output}"},
    }
    asl = accepted(definition)
    assert asl["States"]["pause"]["Seconds"] == 90
    assert asl["States"]["until"]["Timestamp"] == "2020-01-01T00:00:00Z"
    with engine() as runtime:
        deployed(runtime, definition)
        result = runtime.run("timed", {})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"t": {"after": {}}, "until": {}}
    assert result.count("WaitStateEntered") == 2


def test_wait_with_both_or_an_expression_is_refused_by_name() -> None:
    both = refusals({"name": "w", "tasks": [system("WAIT", "pause", duration="1s", until="2020-01-01")]})
    assert both
    assert both[0][0] == "tasks[0].inputParameters"
    assert "both" in both[0][1]
    dynamic = refusals({"name": "w", "tasks": [system("WAIT", "pause", duration="${workflow.input.d}")]})
    assert dynamic
    assert dynamic[0][0] == "tasks[0].inputParameters.duration"


def test_until_without_a_zone_is_warned() -> None:
    _, diagnostics = translate({"name": "w", "tasks": [system("WAIT", "p", until="2020-01-01")]}, {})
    assert [(d.severity, d.location) for d in diagnostics] == [("warning", "tasks[0].inputParameters.until")]


# --- HUMAN and WAIT until signalled --------------------------------------------------------------
def approval_workflow(kind: str) -> dict[str, Any]:
    return {
        "name": f"approve_{kind.lower()}",
        "tasks": [
            simple("before", image="${workflow.input.image}"),
            system(kind, "approve", image="${before.output.received.image}", note="check me"),
            simple("after", approved="${approve.output.approved}", by="${approve.output.by}"),
        ],
        "outputParameters": {"after": "${after.output.received}", "approval": "${approve.output}"},
    }


@pytest.mark.parametrize("kind", ["HUMAN", "WAIT"])
def test_a_waiting_task_takes_the_output_it_is_completed_with(kind: str) -> None:
    definition = approval_workflow(kind)
    with engine() as runtime:
        execution = waiting_for(runtime, definition, {"image": "cat.jpg"}, "approve")
        assert runtime.client.describe_execution(executionArn=execution)["status"] == "RUNNING"
        complete_task(runtime.client, execution, "approve", {"approved": True, "by": "ana"})
        described = finished(runtime, execution)
        history = runtime.client.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {
        "after": {"approved": True, "by": "ana"},
        "approval": {"approved": True, "by": "ana"},
    }
    scheduled = [e for e in history if e["type"] == "TaskScheduled"]
    announced = json.loads(scheduled[1]["taskScheduledEventDetails"]["parameters"])["Entries"][0]
    detail = announced["Detail"] if isinstance(announced["Detail"], dict) else json.loads(announced["Detail"])
    assert detail["input"] == {"image": "cat.jpg", "note": "check me"}
    assert detail["taskType"] == kind
    assert detail["workflowType"] == definition["name"]


def test_imgpipe_complete_command_reports_what_it_cannot_complete(capsys) -> None:
    """The CLI end to end, with the boto3 calls a user's `imgpipe complete` makes."""
    definition = approval_workflow("HUMAN")
    with engine() as runtime:
        execution = waiting_for(runtime, definition, {"image": "dog.png"}, "approve")
        assert main(["complete", "nobody", "--execution", execution]) == 1
        assert "no HUMAN or WAIT task 'nobody'" in capsys.readouterr().err
        assert main(["complete", "approve", "--execution", execution, "--output", "[1]"]) == 2
        assert "--output: the task output must be a JSON object" in capsys.readouterr().err
        output = '{"approved": false, "by": "bo"}'
        assert main(["complete", "approve", "--execution", execution, "--output", output]) == 0
        described = finished(runtime, execution)
        # the wait is over: completing it again is refused by the service, reported, not raised
        assert main(["complete", "approve", "--execution", execution, "--output", output]) == 1
    assert json.loads(described["output"])["after"] == {"approved": False, "by": "bo"}


def test_a_waiting_task_failed_from_outside_fails_the_workflow_with_the_reason(capsys) -> None:
    definition = approval_workflow("HUMAN")
    with engine() as runtime:
        execution = waiting_for(runtime, definition, {"image": "cat.jpg"}, "approve")
        assert main(["complete", "approve", "--execution", execution, "--failed", "blurry"]) == 0
        described = finished(runtime, execution)
    assert "failed approve" in capsys.readouterr().out
    assert described["status"] == "FAILED"
    assert described["error"] == "Conductor.FAILED"  # moto 5.2 drops SendTaskFailure's cause; AWS keeps it


def test_imgpipe_run_refuses_a_workflow_it_could_only_wait_on_forever(tmp_path) -> None:
    from imgpipe.local.runner import UsageError
    from imgpipe.local.workflows import translate_workflow_file

    path = tmp_path / "approve.json"
    path.write_text(json.dumps({"name": "approve", "tasks": [system("NOOP", "n"), system("HUMAN", "ok")]}))
    with pytest.raises(UsageError, match=r"task\(s\) ok wait to be completed from outside") as raised:
        translate_workflow_file(path)
    assert "imgpipe complete TASK_REF" in str(raised.value)


def test_callback_workflows_are_not_express_compatible_and_unbounded() -> None:
    from statemachines.translator.model import WorkflowDef
    from statemachines.translator.translate import translate_workflow

    translation = translate_workflow(
        WorkflowDef.model_validate(approval_workflow("HUMAN")), task_defs("echo")
    )
    assert not translation.express_compatible
    assert translation.worst_case_seconds is None


# --- JSON_JQ_TRANSFORM ---------------------------------------------------------------------------
def jq_workflow(query: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": "jq",
        "tasks": [
            system("JSON_JQ_TRANSFORM", "shape", queryExpression=query, **inputs),
            simple("t", first="${shape.output.result}", every="${shape.output.resultList}"),
        ],
        "outputParameters": {"shape": "${shape.output}", "t": "${t.output.received}"},
    }


def run_jq(definition: dict[str, Any], payload: Any) -> Any:
    from lambdas.json_jq_transform.handler import handler

    with engine() as runtime:
        runtime.function("json_jq_transform", handler)
        deployed(runtime, definition)
        return runtime.run(definition["name"], payload)


def test_jq_transform_outputs_conductors_result_and_result_list() -> None:
    # Conductor's documented example: the query sees the whole task input
    definition = jq_workflow(
        "{ key3: (.key1.value1 + .key2.value2) }, .key1.value1[]",
        key1={"value1": ["a", "b"]},
        key2={"value2": "${workflow.input.more}"},
    )
    result = run_jq(definition, {"more": ["c", "d"]})
    assert result.status == "SUCCEEDED", result.cause
    expected = [{"key3": ["a", "b", "c", "d"]}, "a", "b"]
    assert result.output["shape"] == {"result": expected[0], "resultList": expected}
    assert result.output["t"] == {"first": expected[0], "every": expected}


def test_jq_transform_with_no_value_outputs_null_and_an_empty_list() -> None:
    result = run_jq(jq_workflow("empty"), {})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["shape"] == {"result": None, "resultList": []}


def test_a_failing_query_fails_the_task_once_with_a_typed_error() -> None:
    result = run_jq(jq_workflow(".value + 1", value="text"), {})
    assert result.status == "FAILED"
    assert result.error == "JqTransformError"
    assert "queryExpression" in (result.cause or "")
    assert result.count("TaskFailed") == 1  # deterministic: not retried


def test_jq_transform_without_a_query_is_refused_by_name() -> None:
    problems = refusals({"name": "jq", "tasks": [system("JSON_JQ_TRANSFORM", "shape", a=1)]})
    assert problems == [
        (
            "tasks[0].inputParameters",
            "JSON_JQ_TRANSFORM 'shape' has no queryExpression: Conductor fails such a task",
        )
    ]


# --- EVENT ---------------------------------------------------------------------------------------
def event_workflow(sink: str) -> dict[str, Any]:
    return {
        "name": "publish",
        "version": 4,
        "tasks": [
            simple("t", size="${workflow.input.size}"),
            system("EVENT", "announce", sink=sink, size="${t.output.received.size}", step="resized"),
            simple("after", produced="${announce.output.event_produced}"),
        ],
        "outputParameters": {"announce": "${announce.output}", "after": "${after.output.received}"},
    }


def with_queue(definition: dict[str, Any], queue_url: str | None = None) -> str:
    """The ASL with the SQS queue placeholder filled, as a definition substitution would fill it
    (the harness fills the Lambda ones)."""
    asl_json = json.dumps(accepted(definition))
    return asl_json.replace("${QueueUrl_renditions}", queue_url) if queue_url else asl_json


def received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_event_to_a_conductor_sink_is_an_eventbridge_event_a_rule_can_handle() -> None:
    import boto3

    definition = event_workflow("conductor:resized")
    with engine() as runtime:
        sqs = boto3.client("sqs", region_name="us-east-1")
        events = boto3.client("events", region_name="us-east-1")
        handled = sqs.create_queue(QueueName="handler")["QueueUrl"]
        handled_arn = sqs.get_queue_attributes(QueueUrl=handled, AttributeNames=["QueueArn"])["Attributes"]
        pattern = {"source": ["imgpipe.conductor"], "detail-type": ["conductor:publish:resized"]}
        events.put_rule(Name="conductor-handler", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="conductor-handler", Targets=[{"Id": "q", "Arn": handled_arn["QueueArn"]}])
        runtime.function("echo", echo)
        runtime.deploy("publish", with_queue(definition))
        result = runtime.run("publish", {"size": 300})
        delivered = received(sqs, handled)
    assert result.status == "SUCCEEDED", result.cause
    workflow_id = result.output["announce"]["workflowInstanceId"]
    payload = {
        "sink": "conductor:resized",
        "size": 300,
        "step": "resized",
        "workflowInstanceId": workflow_id,
        "workflowType": "publish",
        "workflowVersion": 4,
        "correlationId": None,
    }
    assert result.output["announce"] == payload | {"event_produced": "conductor:publish:resized"}
    assert result.output["after"] == {"produced": "conductor:publish:resized"}
    assert [event["detail"] for event in delivered] == [payload]
    assert workflow_id
    assert isinstance(workflow_id, str)


def test_event_to_an_sqs_sink_sends_the_payload_to_that_queue() -> None:
    import boto3

    definition = event_workflow("sqs:renditions")
    with engine() as runtime:
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="renditions")["QueueUrl"]
        runtime.function("echo", echo)
        runtime.deploy("publish", with_queue(definition, queue_url))
        result = runtime.run("publish", {"size": 64})
        delivered = received(sqs, queue_url)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["announce"]["event_produced"] == "sqs:renditions"
    assert len(delivered) == 1
    assert delivered[0] == {k: v for k, v in result.output["announce"].items() if k != "event_produced"}
    assert delivered[0]["size"] == 64


@pytest.mark.parametrize(
    ("sink", "fragment"),
    [("kafka:topic", "is not translated"), ("${workflow.input.sink}", "literal sink"),
     ("sqs:bad.name", "not one SQS allows"), ("sqs:" + "q" * 81, "not one SQS allows"),
     ("sqs:orders.fifo", "MessageGroupId"), ("conductorX", "is not translated")],
)  # fmt: skip
def test_event_sinks_without_a_translation_are_refused_by_name(sink: str, fragment: str) -> None:
    problems = refusals({"name": "w", "tasks": [system("EVENT", "announce", sink=sink)]})
    assert [location for location, _ in problems] == ["tasks[0].inputParameters.sink"]
    assert fragment in problems[0][1]
    assert "announce" in problems[0][1]


# --- START_WORKFLOW ------------------------------------------------------------------------------
CHILD = {
    "name": "started_child",
    "tasks": [system("WAIT", "hold", duration="1s"), simple("c", got="${workflow.input.value}")],
    "outputParameters": {"got": "${c.output.received.got}"},
}


def starter(request: Any) -> dict[str, Any]:
    return {
        "name": "starter",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "$.loop['iteration'] < 2",
                "loopOver": [system("START_WORKFLOW", "kick", startWorkflow=request)],
            },
            simple("after", started="${kick.output.workflowId}"),
        ],
        "outputParameters": {"kick": "${kick.output}", "after": "${after.output.received}"},
    }


def test_start_workflow_starts_the_child_without_waiting_and_outputs_its_workflow_id() -> None:
    from statemachines.translator.model import WorkflowDef

    definition = starter({"name": "started_child", "version": 1, "input": {"value": "${workflow.input.v}"}})
    child = WorkflowDef.model_validate(CHILD)
    asl, diagnostics = translate(definition, task_defs("echo"), {"started_child": child})
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    child_asl, _ = translate(CHILD, task_defs("echo"))
    with engine() as runtime:
        runtime.function("echo", echo)
        runtime.deploy("started_child", json.dumps(child_asl))
        runtime.deploy("starter", json.dumps(asl))
        result = runtime.run("starter", {"v": "hello"})
        children = runtime.client.list_executions(stateMachineArn=runtime.arns["started_child"])["executions"]
        outputs = [
            json.loads(finished(runtime, child["executionArn"]).get("output") or "null") for child in children
        ]
    assert result.status == "SUCCEEDED", result.cause
    workflow_id = result.output["kick"]["workflowId"]
    assert result.output == {"kick": {"workflowId": workflow_id}, "after": {"started": workflow_id}}
    # one start per loop pass, each under its own name; the parent did not wait for them
    assert len(children) == 2
    assert workflow_id in {child["name"] for child in children}
    assert outputs == [{"got": "hello"}, {"got": "hello"}]
    assert result.count("TaskSucceeded") == 3  # two starts, one echo: no child task ran in the parent


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [({"name": "ghost"}, "not among"), ({"name": "starter"}, "itself"), ({}, "literal")],
)  # fmt: skip
def test_start_workflow_targets_that_cannot_be_started_are_refused_by_name(
    request_: Any, fragment: str
) -> None:
    problems = refusals(starter(request_))
    assert [location for location, _ in problems] == [
        "tasks[0].loopOver[0].inputParameters.startWorkflow.name"
    ]
    assert fragment in problems[0][1]


# --- AWS's own schema ----------------------------------------------------------------------------
def assert_schema_valid(definitions: dict[str, tuple[dict[str, Any], list[Any]]]) -> None:
    """cfn-lint's Step Functions schema (rule E3601) accepts each translation, placeholders filled."""
    import re

    from cfnlint.api import lint

    from statemachines.project import substitute

    def value(key: str) -> str:
        if key.startswith("QueueUrl_"):
            return f"https://sqs.us-east-1.amazonaws.com/123456789012/{key.removeprefix('QueueUrl_')}"
        kind = "function" if key.startswith("LambdaArn_") else "stateMachine"
        return f"arn:aws:{'lambda' if kind == 'function' else 'states'}:us-east-1:123456789012:{kind}:{key}"

    resources = {}
    for name, (asl, diagnostics) in definitions.items():
        assert not [d for d in diagnostics if d.severity == "error"], (name, diagnostics)
        text = json.dumps(asl)
        filled = substitute(text, {k: value(k) for k in re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)})
        resources[name.replace("_", "")] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/sfn", "Definition": json.loads(filled)},
        }
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    assert [str(match) for match in lint(json.dumps(template), regions=["us-east-1"])] == []


def test_every_system_task_passes_the_state_machine_schema() -> None:
    from statemachines.translator.model import WorkflowDef

    defs = task_defs("echo")
    child = {"started_child": WorkflowDef.model_validate(CHILD)}
    timed = {
        "name": "timed",
        "tasks": [
            system("NOOP", "n"),
            system("WAIT", "w", duration="1m 30s"),
            system("WAIT", "u", until="2020-01-01 00:00 UTC"),
        ],
        "outputParameters": {"w": "${w.output}"},
    }
    optional_jq = jq_workflow(".")
    optional_jq["tasks"][0]["optional"] = True
    assert_schema_valid(
        {
            "timed": translate(timed, defs),
            "human": translate({**approval_workflow("HUMAN"), "timeoutSeconds": 60}, defs),
            "signal": translate(approval_workflow("WAIT"), defs),
            "jq": translate(optional_jq, defs),
            "queue": translate(event_workflow("sqs:renditions"), defs),
            "starter": translate(
                starter({"name": "started_child", "input": "${workflow.input}"}), defs, child
            ),
        }
    )


def test_the_diagram_draws_each_system_task_with_its_registered_shape() -> None:
    from statemachines.translator.mermaid import workflow_diagram
    from statemachines.translator.model import WorkflowDef

    definition = {
        "name": "shapes",
        "tasks": [
            system("HUMAN", "h"),
            system("EVENT", "e", sink="conductor"),
            system("START_WORKFLOW", "s", startWorkflow={"name": "x"}),
            system("WAIT", "w", duration="1s"),
            system("NOOP", "n"),
        ],
    }
    import re

    nodes = re.findall(
        r"^\s+n\d+_([a-z])([\[(>].*)$", workflow_diagram(WorkflowDef.model_validate(definition)), re.M
    )
    drawn = dict(nodes)
    assert drawn["h"].endswith('[/"h<br/>HUMAN"/]')
    assert drawn["e"].endswith('>"e<br/>EVENT"]')
    assert drawn["s"].endswith('[["s<br/>START_WORKFLOW"]]')
    assert drawn["w"].endswith('("w<br/>WAIT")')
    assert drawn["n"].endswith('["n<br/>NOOP"]')
