"""Conductor's REST API over the local engine, in process (Flask's test client, no socket): the
translator's diagnostics as Conductor's ErrorResponse, registration rules, the status document's
shape against Conductor OSS's models, terminate, retry, the 501s and hostile input."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgpipe.local.conductor_api import (
    MAX_EXECUTION_INPUT_BYTES,
    UNSUPPORTED,
    ConductorDispatcher,
    create_app,
    is_aws_request,
)
from imgpipe.local.engine import LocalAws
from lambdas.conductor.bodies import MAX_JSON_DEPTH, json_depth

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
GUARD_SECONDS = 120  # hang guard for polling, not a performance threshold

# Field names of Conductor OSS's models, read from conductor-oss/conductor:
# common/src/main/java/com/netflix/conductor/common/run/Workflow.java (fields and getters, e.g.
# getStartTime/getWorkflowName/getWorkflowVersion) plus its base class Auditable (ownerApp,
# createTime, updateTime, createdBy, updatedBy), and common/.../metadata/tasks/Task.java.
CONDUCTOR_WORKFLOW_FIELDS = frozenset(
    [
        "status",
        "endTime",
        "workflowId",
        "parentWorkflowId",
        "parentWorkflowTaskId",
        "tasks",
        "input",
        "output",
        "workflowType",
        "version",
        "correlationId",
        "reRunFromWorkflowId",
        "reasonForIncompletion",
        "schemaVersion",
        "event",
        "taskToDomain",
        "failedReferenceTaskNames",
        "workflowDefinition",
        "externalInputPayloadStoragePath",
        "externalOutputPayloadStoragePath",
        "priority",
        "variables",
        "lastRetriedTime",
        "failedTaskNames",
        "history",
        "startTime",
        "workflowName",
        "workflowVersion",
        "ownerApp",
        "createTime",
        "updateTime",
        "createdBy",
        "updatedBy",
    ]
)
CONDUCTOR_TASK_FIELDS = frozenset(
    [
        "taskType",
        "status",
        "inputData",
        "referenceTaskName",
        "retryCount",
        "seq",
        "correlationId",
        "pollCount",
        "taskDefName",
        "scheduledTime",
        "startTime",
        "endTime",
        "updateTime",
        "startDelayInSeconds",
        "retriedTaskId",
        "retried",
        "executed",
        "callbackFromWorker",
        "responseTimeoutSeconds",
        "workflowInstanceId",
        "workflowType",
        "taskId",
        "reasonForIncompletion",
        "callbackAfterSeconds",
        "workerId",
        "outputData",
        "workflowTask",
        "domain",
        "rateLimitPerFrequency",
        "rateLimitFrequencyInSeconds",
        "externalInputPayloadStoragePath",
        "externalOutputPayloadStoragePath",
        "workflowPriority",
        "executionNameSpace",
        "isolationGroupId",
        "iteration",
        "subWorkflowId",
        "subworkflowChanged",
        "queueWaitTime",
        "taskDefinition",
        "loopOverTask",
    ]
)
WORKFLOW_STATUSES = frozenset({"RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED", "PAUSED"})
TASK_STATUSES = frozenset(
    [
        "IN_PROGRESS",
        "CANCELED",
        "FAILED",
        "FAILED_WITH_TERMINAL_ERROR",
        "COMPLETED",
        "COMPLETED_WITH_ERRORS",
        "SCHEDULED",
        "TIMED_OUT",
        "SKIPPED",
    ]
)
WAITING_WORKFLOW = {
    "name": "api_wait_then_resize",
    "version": 3,
    "tasks": [
        {
            "name": "hold",
            "taskReferenceName": "hold_ref",
            "type": "WAIT",
            "inputParameters": {"duration": "1 hour"},
        },
    ],
    "outputParameters": {},
    "schemaVersion": 2,
}


class Api:
    def __init__(self, engine: LocalAws) -> None:
        self.engine = engine
        self.client = create_app(engine).test_client()

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return self.client.open(path, method=method, data=data, content_type="application/json")

    def wait(self, workflow_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + GUARD_SECONDS
        while True:
            document = self.call("GET", f"/api/workflow/{workflow_id}?includeTasks=true").get_json()
            if document["status"] != "RUNNING":
                return document
            assert time.monotonic() < deadline, f"{workflow_id} still running"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with LocalAws(time_scale=1.0) as engine:
        yield Api(engine)


def _source(engine: LocalAws, key: str = "local-runs/api/source.png") -> str:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((320, 240)).convert("RGB").save(buffer, "PNG")
    engine.s3.put_object(Bucket=engine.deployment.input_bucket, Key=key, Body=buffer.getvalue())
    return f"s3://{engine.deployment.input_bucket}/{key}"


def _errors(response: Any) -> list[tuple[str, str]]:
    body = response.get_json()
    assert body["status"] == response.status_code == 400
    assert body["message"] == "Validation failed, check below errors for detail."
    return [(e["path"], e["message"]) for e in body["validationErrors"]]


def test_seed_workflow_block_names_the_task_without_a_worker(api: Api) -> None:
    """Seed 000's workflow block runs `upload_toS3_ref`; with that task definition registered (the
    post shows it), the translator accepts it, and no worker serves it: 400 at the task's name."""
    definitions = [json.loads((SEEDS / "000" / "tasks" / f).read_text()) for f in ("upload_toS3_ref.json",)]
    assert api.call("POST", "/api/metadata/taskdefs", definitions).status_code == 200
    block = json.loads((SEEDS / "000" / "workflows" / "image_convert_resize.json").read_text())
    response = api.call("POST", "/api/metadata/workflow", {**block, "name": "seed_block_copy"})
    [(path, message)] = _errors(response)
    assert path == "tasks[1].name"
    assert "'upload_toS3_ref' has no worker" in message
    assert response.get_json()["validationErrors"][0]["invalidValue"] == "upload_toS3_ref"


def test_project_workflow_names_are_deployed_as_is(api: Api) -> None:
    project_file = Path("statemachines/conductor/workflows/image_convert_resize.json").resolve()
    project = json.loads(project_file.read_text())
    assert api.call("POST", "/api/metadata/workflow", project).status_code == 200  # the same file: a no-op
    changed = {
        **project,
        "description": "mine",
        "outputParameters": {"s3Url": "${upload_toS3_ref.output.s3Url}"},
    }
    response = api.call("POST", "/api/metadata/workflow", changed)
    assert response.status_code == 409
    assert "project's workflows" in response.get_json()["message"]
    assert api.call("PUT", "/api/metadata/workflow", [changed]).status_code == 409
    assert api.call("GET", "/api/metadata/workflow/image_convert_resize").get_json() == project


def test_register_update_and_read_back_a_new_workflow(api: Api) -> None:
    definition = json.loads(Path("statemachines/conductor/workflows/image_resize_upload.json").read_text())
    mine = {**definition, "name": "api_resize_upload", "version": 1}
    assert api.call("POST", "/api/metadata/workflow", mine).status_code == 200
    assert api.call("POST", "/api/metadata/workflow", mine).status_code == 409  # Conductor: already exists
    arn = api.engine.state_machine_arn("api_resize_upload")
    assert arn.endswith(":stateMachine:imgpipe-api_resize_upload")
    updated = {**mine, "version": 2, "outputParameters": {"url": "${upload_toS3_ref.output.s3Url}"}}
    assert api.call("PUT", "/api/metadata/workflow", [updated]).status_code == 200
    assert api.call("GET", "/api/metadata/workflow/api_resize_upload").get_json() == updated
    asl = json.loads(api.engine.sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    assert "'api_resize_upload' v2" in asl["Comment"]
    assert api.engine.state_machine_arn("api_resize_upload") == arn
    assert api.call("GET", "/api/metadata/workflow/api_resize_upload?version=1").status_code == 404
    names = [w["name"] for w in api.call("GET", "/api/metadata/workflow").get_json()]
    assert "api_resize_upload" in names
    assert "image_multiple_convert_resize" in names

    source = _source(api.engine)
    response = api.call("POST", "/api/workflow/api_resize_upload?version=1", {"fileLocation": source})
    assert response.status_code == 404
    assert "version 2" in response.get_json()["message"]
    started = api.call(
        "POST",
        "/api/workflow",
        {
            "name": "api_resize_upload",
            "version": 2,
            "correlationId": "order-7",
            "priority": 5,
            "input": {"fileLocation": source, "outputFormat": "webp", "outputWidth": 64, "outputHeight": 64},
        },
    )
    assert started.status_code == 200
    assert started.mimetype == "text/plain"
    document = api.wait(started.get_data(as_text=True))
    assert document["status"] == "COMPLETED", document.get("reasonForIncompletion")
    assert document["correlationId"] == "order-7"
    assert document["priority"] == 5
    assert document["workflowVersion"] == 2
    assert set(document["output"]) == {"url"}
    assert document["output"]["url"].endswith(".webp")
    assert {t["correlationId"] for t in document["tasks"]} == {"order-7"}


def test_task_definitions_are_listed_and_updated(api: Api) -> None:
    names = {t["name"] for t in api.call("GET", "/api/metadata/taskdefs").get_json()}
    assert {"image_convert_resize", "upload_toS3", "image_multiple_convert_resize"} <= names
    single = api.call("GET", "/api/metadata/taskdefs/upload_toS3").get_json()
    assert single["name"] == "upload_toS3"
    assert api.call("PUT", "/api/metadata/taskdefs", {**single, "retryCount": 1}).status_code == 200
    assert api.call("GET", "/api/metadata/taskdefs/upload_toS3").get_json()["retryCount"] == 1
    assert api.call("PUT", "/api/metadata/taskdefs", {**single, "name": "nobody"}).status_code == 404
    assert api.call("PUT", "/api/metadata/taskdefs", single).status_code == 200
    response = api.call("POST", "/api/metadata/taskdefs", single)  # Conductor takes a list here
    assert _errors(response) == [
        ("body", "POST /api/metadata/taskdefs takes a JSON list of task definitions")
    ]
    [(path, _)] = _errors(api.call("POST", "/api/metadata/taskdefs", [{"name": ""}]))
    assert path == "taskDefs[0].name"


def test_status_document_has_conductor_field_names_and_a_failed_task(api: Api) -> None:
    started = api.call(
        "POST",
        "/api/workflow/image_convert_resize",
        {
            "fileLocation": f"s3://{api.engine.deployment.input_bucket}/local-runs/api/missing.png",
            "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 10, "height": 10}},
        },
    )
    document = api.wait(started.get_data(as_text=True))
    assert set(document) <= CONDUCTOR_WORKFLOW_FIELDS, set(document) - CONDUCTOR_WORKFLOW_FIELDS
    for task in document["tasks"]:
        assert set(task) <= CONDUCTOR_TASK_FIELDS, set(task) - CONDUCTOR_TASK_FIELDS
        assert task["status"] in TASK_STATUSES
    assert document["status"] == "FAILED"
    assert document["status"] in WORKFLOW_STATUSES
    [task] = document["tasks"]
    assert (task["referenceTaskName"], task["status"]) == ("image_convert_resize_ref", "FAILED")
    assert "SourceNotFoundError" in task["reasonForIncompletion"]
    assert document["failedReferenceTaskNames"] == ["image_convert_resize_ref"]
    assert "SourceNotFoundError" in document["reasonForIncompletion"]
    summary = api.call("GET", f"/api/workflow/{document['workflowId']}?includeTasks=false").get_json()
    assert summary["tasks"] == []
    assert summary["status"] == "FAILED"
    assert summary["failedReferenceTaskNames"] == ["image_convert_resize_ref"]
    assert task["reasonForIncompletion"].startswith("SourceNotFoundError: fileLocation: s3://")
    assert "stackTrace" not in document["reasonForIncompletion"]
    retry = api.call("POST", f"/api/workflow/{document['workflowId']}/retry")
    assert retry.status_code == 501
    assert "RedriveExecution" in retry.get_json()["message"]


def test_a_failed_dynamic_fork_fails_its_fork_and_items(api: Api) -> None:
    started = api.call(
        "POST",
        "/api/workflow/image_multiple_convert_resize",
        {
            "fileLocation": f"s3://{api.engine.deployment.input_bucket}/local-runs/api/missing.png",
            "outputFormats": ["png", "jpg"],
            "outputSizes": [{"width": 10, "height": 10}],
        },
    )
    document = api.wait(started.get_data(as_text=True))
    assert document["status"] == "FAILED"
    statuses = [(t["taskType"], t["status"]) for t in document["tasks"]]
    assert statuses[:2] == [("image_multiple_convert_resize", "COMPLETED"), ("FORK_JOIN_DYNAMIC", "FAILED")]
    # Each item runs in an environment of its own: the first to fail fails the Map, which stops the
    # other (CANCELED) unless it had failed already, as Step Functions stops a Map's iterations.
    items = document["tasks"][2:]
    assert [t["taskType"] for t in items] == ["image_convert_resize"] * 2
    assert {t["status"] for t in items} <= {"FAILED", "CANCELED"}
    failed = sorted(t["referenceTaskName"] for t in items if t["status"] == "FAILED")
    assert failed
    # The Map state failed with its items: the fork is FAILED too (in Conductor its JOIN would be).
    assert document["failedReferenceTaskNames"] == [*failed, "image_multiple_convert_resize_fork_ref"]


def test_terminate_stops_the_execution_with_the_reason(api: Api) -> None:
    assert api.call("POST", "/api/metadata/workflow", WAITING_WORKFLOW).status_code == 200
    workflow_id = api.call("POST", "/api/workflow/api_wait_then_resize", {}).get_data(as_text=True)
    running = api.call("GET", f"/api/workflow/{workflow_id}").get_json()
    assert running["status"] == "RUNNING"
    assert api.call("POST", f"/api/workflow/{workflow_id}/retry").status_code == 409
    assert api.call("DELETE", f"/api/workflow/{workflow_id}?reason=operator%20said%20so").status_code == 200
    document = api.wait(workflow_id)
    assert document["status"] == "TERMINATED"
    assert "operator said so" in document["reasonForIncompletion"]
    assert all(task["status"] != "IN_PROGRESS" for task in document["tasks"])
    assert api.call("DELETE", f"/api/workflow/{workflow_id}").status_code == 409
    execution = api.engine.sfn.describe_execution(
        executionArn=api.engine.state_machine_arn("api_wait_then_resize").replace(
            ":stateMachine:", ":execution:"
        )
        + f":{workflow_id}"
    )
    assert execution["status"] == "ABORTED"  # the state machine is the record, not the API


@pytest.mark.parametrize(("method", "rule", "why"), UNSUPPORTED)
def test_endpoints_without_a_step_functions_equivalent_answer_501(
    api: Api, method: str, rule: str, why: str
) -> None:
    path = "/api" + rule.replace("<int:version>", "1").replace("<path:rest>", "image_convert_resize")
    for variable in ("<workflowId>", "<taskReferenceName>", "<name>", "<correlationId>"):
        path = path.replace(variable, "abc")
    response = api.call(method, path, {})
    assert response.status_code == 501, path
    message = response.get_json()["message"]
    assert message.startswith(f"{method} /api")
    assert why in message


def test_hostile_bodies_and_names(api: Api) -> None:
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    assert json_depth(deep) == MAX_JSON_DEPTH + 1
    assert json_depth('["[[[", {"a": "}"}]') == 2
    [(path, message)] = _errors(api.call("POST", "/api/metadata/workflow", raw=deep.encode()))
    assert (path, "deeper" in message) == ("body", True)
    huge = json.dumps({"blob": "x" * MAX_EXECUTION_INPUT_BYTES})
    assert api.call("POST", "/api/workflow/image_convert_resize", raw=huge.encode()).status_code == 413
    assert _errors(api.call("POST", "/api/metadata/workflow", raw=b"{not json"))[0][0] == "body"
    assert _errors(api.call("POST", "/api/metadata/workflow", raw=b"\xff\xfe"))[0][0] == "body"
    bad_name = api.call("POST", "/api/workflow/..%2F..%2Fetc", {})
    assert bad_name.status_code in (400, 404)
    assert bad_name.get_json()["status"] == bad_name.status_code
    assert _errors(api.call("GET", "/api/workflow/a%20b"))[0][0] == "workflowId"
    assert api.call("GET", "/api/workflow/no-such-id").status_code == 404
    assert api.call("POST", "/api/workflow/no_such_workflow", {}).status_code == 404
    assert (
        _errors(api.call("POST", "/api/workflow/image_convert_resize?priority=100", {}))[0][0] == "priority"
    )
    assert _errors(api.call("POST", "/api/workflow/image_convert_resize?priority=x", {}))[0][0] == "priority"
    assert _errors(api.call("POST", "/api/workflow/image_convert_resize", [1, 2]))[0][0] == "input"
    too_long = {**WAITING_WORKFLOW, "name": "n" * 80}
    assert _errors(api.call("POST", "/api/metadata/workflow", too_long))[0][0] == "name"
    adhoc = api.call("POST", "/api/workflow", {"name": "x", "workflowDef": {"name": "x"}})
    assert adhoc.status_code == 501
    assert "workflowDef" in adhoc.get_json()["message"]
    unknown = api.call("GET", "/api/nothing/here")
    assert unknown.status_code == 404
    assert unknown.get_json()["status"] == 404


def _recording_app(seen: list[str]) -> Any:
    """A WSGI app factory whose apps record their name when called (which one a request reached)."""

    def app(name: str) -> Any:
        def answer(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            seen.append(name)
            return []

        return answer

    return app


def test_the_conductor_app_leaves_execution_pages_to_the_viewer(api: Api) -> None:
    """`/execution/<id>` is imgpipe.viewer's page (mounted in front by `imgpipe serve`): the
    Conductor app answers it as any path it does not serve, and its dispatcher passes it on."""
    workflow_id = api.call(
        "POST", "/api/workflow/image_convert_resize", {"fileLocation": "s3://nowhere/x.png"}
    ).get_data(as_text=True)
    api.wait(workflow_id)
    page = api.call("GET", f"/execution/{workflow_id}")
    assert page.status_code == 404
    assert page.get_json()["message"].startswith(f"GET /execution/{workflow_id}: not a Conductor endpoint")
    seen: list[str] = []
    app = _recording_app(seen)
    ConductorDispatcher(app("conductor"), app("next"))({"PATH_INFO": f"/execution/{workflow_id}"}, None)
    assert seen == ["next"]


def test_signed_aws_requests_never_reach_the_conductor_routes() -> None:
    seen: list[str] = []
    app = _recording_app(seen)
    dispatcher = ConductorDispatcher(app("conductor"), app("aws"))
    signed = {"PATH_INFO": "/api/object", "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=x/..."}
    presigned = {"PATH_INFO": "/api/key", "QUERY_STRING": "X-Amz-Signature=abc&X-Amz-Credential=x"}
    for environ in (signed, presigned, {"PATH_INFO": "/imgpipe-input-local/uploads/a.png"}):
        dispatcher(environ, None)
    dispatcher({"PATH_INFO": "/api/workflow/x"}, None)
    assert seen == ["aws", "aws", "aws", "conductor"]
    assert is_aws_request(signed)
    assert not is_aws_request({"PATH_INFO": "/api/x"})


def test_an_express_workflow_starts_but_is_not_read_back_as_on_aws(api: Api) -> None:
    """image_renditions is deployed Express (as on AWS): started by name, then 404 saying why, not
    the history moto would have kept. An empty body is the empty input."""
    source = _source(api.engine, "local-runs/api/express.png")
    body = {"fileLocation": source, "outputFormats": ["png"], "outputSizes": [{"width": 16, "height": 16}]}
    started = api.call("POST", "/api/workflow/image_renditions", body)
    assert started.status_code == 200
    status = api.call("GET", f"/api/workflow/{started.get_data(as_text=True)}")
    assert status.status_code == 404
    assert "Express workflows (image_renditions)" in status.get_json()["message"]
    assert api.call("POST", f"/api/workflow/{started.get_data(as_text=True)}/retry").status_code == 404
    empty = api.call("POST", "/api/workflow/image_convert_resize")
    assert empty.status_code == 200
    assert api.wait(empty.get_data(as_text=True))["input"] == {}


def test_a_workflow_with_javascript_registers_and_runs_on_the_evaluator(api: Api) -> None:
    """INLINE runs on the javascript_evaluator worker, deployed when a workflow needs it: not a
    worker missing from the project."""
    definition = {
        "name": "api_inline_sum",
        "version": 1,
        "tasks": [
            {
                "name": "sum",
                "taskReferenceName": "sum_ref",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "$.values.reduce(function (a, b) { return a + b; }, 0)",
                    "values": "${workflow.input.values}",
                },
            }
        ],
        "outputParameters": {"total": "${sum_ref.output.result}"},
        "schemaVersion": 2,
    }
    response = api.call("POST", "/api/metadata/workflow", definition)
    assert response.status_code == 200, response.get_data(as_text=True)
    started = api.call("POST", "/api/workflow/api_inline_sum", {"values": [4, 5, 33]})
    document = api.wait(started.get_data(as_text=True))
    assert document["status"] == "COMPLETED", document.get("reasonForIncompletion")
    assert document["output"] == {"total": 42}
