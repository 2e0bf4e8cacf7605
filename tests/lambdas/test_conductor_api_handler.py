"""The Conductor API Lambda, invoked with API Gateway HTTP API (payload 2.0) events from tests/events,
against moto's Step Functions running the project's translated ASL and real workers (the local
engine). Its environment is what infra/conductor_api.py writes; its status document is compared
with the one `imgpipe serve` answers for the same execution."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from imgpipe.local.conductor_api import create_app
from imgpipe.local.engine import LocalAws, default_handler
from infra.conductor_api import deployed_workflows
from lambdas.adapters import stepfunctions
from lambdas.conductor.callbacks import FAILED_ERROR
from lambdas.conductor.errors import ConductorError
from lambdas.conductor.executions import MAX_EXECUTION_INPUT_BYTES, service_error
from lambdas.conductor_api.environment import WORKFLOWS_VARIABLE, workflows_variable
from lambdas.conductor_api.handler import handler
from tests.lambdas.conftest import load_event
from tests.local.test_complete_waiting_task import REVIEW
from tests.local.test_conductor_api import CONDUCTOR_TASK_FIELDS, CONDUCTOR_WORKFLOW_FIELDS
from tests.support import worker_faults
from tests.support.lambda_context import FakeLambdaContext
from tests.support.worker_faults import FaultPlan

pytestmark = pytest.mark.slow  # each test runs workflows on the local engine

GUARD_SECONDS = 120  # hang guard for waits, not a performance threshold
SOURCE_KEY = "uploads/seed.png"
UPLOAD_TASK = "upload_toS3"


@dataclass
class Api:
    engine: LocalAws
    hold_file: Path  # while it exists, the upload worker hangs (in its own worker process)
    upload_plan: FaultPlan

    def wait_until_the_upload_hangs(self) -> None:
        deadline = time.monotonic() + GUARD_SECONDS
        while self.upload_plan.count("call") < 1:
            assert time.monotonic() < deadline, "the upload worker was never invoked"
            time.sleep(0.05)

    def call(
        self,
        event_name: str,
        *,
        method: str | None = None,
        path: str | None = None,
        query: dict[str, str] | None = None,
        body: str | None = None,
        base64_body: bool = False,
    ) -> dict[str, Any]:
        """The handler's answer to the event file, with the request line changed for the test."""
        event = load_event(event_name)
        if method is not None:
            event["requestContext"]["http"]["method"] = method
        if path is not None:
            event["rawPath"] = event["requestContext"]["http"]["path"] = path
        if query is not None:
            event["rawQueryString"] = urlencode(query)
            event["queryStringParameters"] = query or None
        if body is not None:
            event["body"] = base64.b64encode(body.encode()).decode() if base64_body else body
            event["isBase64Encoded"] = base64_body
        answer: dict[str, Any] = handler(event, FakeLambdaContext(function_name="imgpipe-conductor_api"))
        return answer

    def execution_arn(self, workflow: str, workflow_id: str) -> str:
        machine = self.engine.state_machine_arn(workflow)
        return machine.replace(":stateMachine:", ":execution:", 1) + f":{workflow_id}"

    def source(self) -> str:
        return f"s3://{self.engine.deployment.input_bucket}/{SOURCE_KEY}"


def _seed_body(api: Api, event_name: str = "conductor_api_start") -> str:
    """The event file's body with the source moved to the engine's input bucket."""
    body = json.loads(load_event(event_name)["body"])
    (body.get("input", body))["fileLocation"] = api.source()
    return json.dumps(body)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Api]:
    from statemachines.project import load_project

    hold_file = tmp_path / "hold-upload"
    plan = FaultPlan(
        handler=default_handler(UPLOAD_TASK),
        state_dir=str(tmp_path),
        fail_first=1,
        hang_seconds=worker_faults.GUARD_SECONDS,
        while_exists=str(hold_file),
    )

    def handler_for(task: str) -> str:
        return worker_faults.HANDLER if task == UPLOAD_TASK else default_handler(task)

    stepfunctions.reset_client()
    with LocalAws(
        time_scale=0.0, handler_for=handler_for, extra_environment={UPLOAD_TASK: plan.environment()}
    ) as engine:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 30, 90)).save(buffer, "PNG")
        engine.s3.put_object(Bucket=engine.deployment.input_bucket, Key=SOURCE_KEY, Body=buffer.getvalue())
        project = load_project()
        sfn = engine.sfn
        arns = {n: a for n, a in engine.deployment.state_machine_arns.items() if n in project.workflows}
        express = {
            n: sfn.describe_state_machine(stateMachineArn=a)["type"] == "EXPRESS" for n, a in arns.items()
        }
        monkeypatch.setenv(WORKFLOWS_VARIABLE, workflows_variable(deployed_workflows(project, arns, express)))
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "conductor_api")
        try:
            yield Api(engine, hold_file, plan)
        finally:
            stepfunctions.reset_client()


def _json(answer: dict[str, Any]) -> Any:
    assert answer["headers"]["Content-Type"] == "application/json"
    return json.loads(answer["body"])


def _start(api: Api, **changes: Any) -> str:
    answer = api.call("conductor_api_start", body=changes.pop("body", None) or _seed_body(api), **changes)
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["headers"]["Content-Type"] == "text/plain"
    return str(uuid.UUID(answer["body"]))


def _status(api: Api, workflow_id: str, include_tasks: str = "true") -> dict[str, Any]:
    answer = api.call(
        "conductor_api_status", path=f"/api/workflow/{workflow_id}", query={"includeTasks": include_tasks}
    )
    assert answer["statusCode"] == 200, answer["body"]
    document: dict[str, Any] = _json(answer)
    return document


def test_the_seed_start_runs_the_workflow_and_the_status_is_conductors(api):
    workflow_id = _start(api)
    described = api.engine.wait(
        api.execution_arn("image_convert_resize", workflow_id), timeout_seconds=GUARD_SECONDS
    )
    assert described["status"] == "SUCCEEDED"
    document = _status(api, workflow_id)
    assert document["status"] == "COMPLETED"
    assert document["workflowId"] == workflow_id
    assert (document["workflowName"], document["workflowVersion"]) == ("image_convert_resize", 1)
    assert set(document) <= CONDUCTOR_WORKFLOW_FIELDS
    assert document["input"]["fileLocation"] == api.source()
    assert [t["referenceTaskName"] for t in document["tasks"]] == [
        "image_convert_resize_ref",
        "upload_toS3_ref",
    ]
    assert {t["status"] for t in document["tasks"]} == {"COMPLETED"}
    assert all(set(t) <= CONDUCTOR_TASK_FIELDS for t in document["tasks"])
    # The rendition the status names is in the output bucket and decodes as asked.
    bucket, key = document["output"]["fileLocation"].removeprefix("s3://").split("/", 1)
    with Image.open(io.BytesIO(api.engine.s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as image:
        assert image.format == "WEBP"
        assert max(image.size) == 32
    # The same document `imgpipe serve` answers for this execution (its REST API over the registry).
    local = create_app(api.engine).test_client().get(f"/api/workflow/{workflow_id}?includeTasks=true")
    assert local.status_code == 200
    assert local.get_json() == document
    without_tasks = _status(api, workflow_id, include_tasks="false")
    assert without_tasks["tasks"] == []
    assert without_tasks["status"] == "COMPLETED"


def test_a_start_workflow_request_starts_by_name_and_version(api):
    answer = api.call("conductor_api_start_request", body=_seed_body(api, "conductor_api_start_request"))
    assert answer["statusCode"] == 200, answer["body"]
    workflow_id = answer["body"]
    api.engine.wait(api.execution_arn("image_convert_resize", workflow_id), timeout_seconds=GUARD_SECONDS)
    document = _status(api, workflow_id)
    assert document["status"] == "COMPLETED"
    # Stateless on AWS: Step Functions has no field for them (the start's log line has them).
    assert "correlationId" not in document
    assert document["priority"] == 0
    refused = api.call(
        "conductor_api_start_request", body=json.dumps({"name": "image_convert_resize", "version": 2})
    )
    assert refused["statusCode"] == 404
    assert "version: 2" in _json(refused)["message"]


def test_terminate_stops_a_running_execution(api):
    api.hold_file.touch()
    workflow_id = _start(api)
    api.wait_until_the_upload_hangs()
    answer = api.call(
        "conductor_api_terminate", path=f"/api/workflow/{workflow_id}", query={"reason": "superseded"}
    )
    assert answer["statusCode"] == 200, answer["body"]
    arn = api.execution_arn("image_convert_resize", workflow_id)
    assert api.engine.wait(arn, timeout_seconds=GUARD_SECONDS)["status"] == "ABORTED"
    assert _status(api, workflow_id)["status"] == "TERMINATED"
    again = api.call(
        "conductor_api_terminate", path=f"/api/workflow/{workflow_id}", query={"reason": "again"}
    )
    assert again["statusCode"] == 409
    assert "not running" in _json(again)["message"]


def test_retry_redrives_only_an_unsuccessful_execution(api):
    completed = _start(api)
    api.engine.wait(api.execution_arn("image_convert_resize", completed), timeout_seconds=GUARD_SECONDS)
    answer = api.call("conductor_api_retry", path=f"/api/workflow/{completed}/retry")
    assert answer["statusCode"] == 409
    assert "COMPLETED" in _json(answer)["message"]
    missing = json.loads(_seed_body(api))
    missing["fileLocation"] = api.source().replace("seed.png", "missing.png")
    failed = _start(api, body=json.dumps(missing))
    described = api.engine.wait(
        api.execution_arn("image_convert_resize", failed), timeout_seconds=GUARD_SECONDS
    )
    assert described["status"] == "FAILED"
    assert _status(api, failed)["failedReferenceTaskNames"] == ["image_convert_resize_ref"]
    # moto 5.2.5 cannot redrive; the local engine answers ExecutionNotRedrivable (sfn_api_fixes):
    # reaching RedriveExecution, and its error mapped, is what can be checked without AWS.
    redriven = api.call("conductor_api_retry", path=f"/api/workflow/{failed}/retry")
    assert redriven["statusCode"] == 409
    assert _json(redriven)["message"].startswith("Step Functions RedriveExecution: ExecutionNotRedrivable")


def test_an_express_execution_starts_but_cannot_be_read_back(api):
    body = json.dumps(
        {"fileLocation": api.source(), "outputFormats": ["png"], "outputSizes": [{"width": 16, "height": 16}]}
    )
    workflow_id = _start(api, path="/api/workflow/image_renditions", body=body)
    answer = api.call("conductor_api_status", path=f"/api/workflow/{workflow_id}")
    assert answer["statusCode"] == 404
    message = _json(answer)["message"]
    assert "Express workflows (image_renditions)" in message
    assert "CloudWatch Logs" in message


@pytest.mark.parametrize(
    ("method", "path", "status", "words"),
    [
        ("POST", "/api/metadata/workflow", 405, "cdk deploy"),
        ("PUT", "/api/metadata/taskdefs", 405, "cdk deploy"),
        ("GET", "/api/metadata/taskdefs", 405, "statemachines/conductor/"),
        (
            "PUT",
            "/api/workflow/3f1c2a9e/pause",
            501,
            "PUT /api/workflow/{workflowId}/pause has no Step Functions",
        ),
        ("GET", "/api/workflow/search", 501, "no search index"),
        ("GET", "/api/tasks/poll/image_convert_resize", 501, "not polled"),
        ("GET", "/api/queue/sizes", 404, "not a Conductor endpoint"),
    ],
)
def test_registration_is_405_and_endpoints_without_counterpart_are_501(api, method, path, status, words):
    answer = api.call("conductor_api_register", method=method, path=path)
    assert answer["statusCode"] == status
    assert ("Allow" in answer["headers"]) == (status == 405)
    body = _json(answer)
    assert body["status"] == status
    assert words in body["message"]


def test_hostile_and_wrong_requests_are_refused_naming_the_field(api):
    bad_name = api.call("conductor_api_start", path="/api/workflow/image%20convert", body="{}")
    assert bad_name["statusCode"] == 400
    assert _json(bad_name)["validationErrors"][0]["path"] == "name"
    not_json = api.call("conductor_api_start", body="{not json")
    assert not_json["statusCode"] == 400
    assert _json(not_json)["validationErrors"][0]["path"] == "body"
    deep = api.call("conductor_api_start", body="[" * 100 + "]" * 100)
    assert deep["statusCode"] == 400
    huge = api.call("conductor_api_start", body=json.dumps({"blob": "x" * MAX_EXECUTION_INPUT_BYTES}))
    assert huge["statusCode"] == 413
    priority = api.call("conductor_api_start", query={"priority": "100"}, body=_seed_body(api))
    assert priority["statusCode"] == 400
    assert _json(priority)["validationErrors"][0]["path"] == "priority"
    unknown = api.call("conductor_api_start", path="/api/workflow/not_deployed", body="{}")
    assert unknown["statusCode"] == 404
    assert "deployed: image_convert_resize" in _json(unknown)["message"]
    no_such_id = api.call("conductor_api_status", path=f"/api/workflow/{uuid.uuid4()}")
    assert no_such_id["statusCode"] == 404
    # No body: the input is empty (the start succeeds; the workflow then reports what is missing).
    empty = api.call("conductor_api_start", body="")
    assert empty["statusCode"] == 200, empty["body"]
    arn = api.execution_arn("image_convert_resize", empty["body"])
    assert json.loads(api.engine.sfn.describe_execution(executionArn=arn)["input"]) == {}
    # A base64-encoded body (API Gateway encodes bodies it does not take for text) is read the same.
    assert uuid.UUID(api.call("conductor_api_start", body=_seed_body(api), base64_body=True)["body"])


def test_a_broken_environment_is_a_500_naming_the_variable(api, monkeypatch):
    monkeypatch.setenv(WORKFLOWS_VARIABLE, "not json")
    answer = api.call("conductor_api_start", body=_seed_body(api))
    assert answer["statusCode"] == 500
    assert f"environment.{WORKFLOWS_VARIABLE}" in _json(answer)["message"]
    monkeypatch.setenv(WORKFLOWS_VARIABLE, json.dumps({"w": {"stateMachineArn": "arn:aws:s3:::bucket"}}))
    assert api.call("conductor_api_start", body=_seed_body(api))["statusCode"] == 500


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ExecutionNotRedrivable", 409, False),
        ("ThrottlingException", 429, True),
        ("AccessDeniedException", 502, False),
    ],
)
def test_step_functions_errors_become_conductor_statuses(code, status, retryable):
    error = ClientError({"Error": {"Code": code, "Message": "from the service"}}, "RedriveExecution")
    with pytest.raises(ConductorError) as raised:
        service_error(error, "RedriveExecution")
    assert raised.value.status == status
    assert raised.value.body()["retryable"] is retryable
    assert code in raised.value.message


@pytest.fixture
def review(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The API with a workflow whose HUMAN task waits (deployed as the stack would deploy it)."""
    from dataclasses import replace

    from statemachines.project import load_project, translate_definition
    from statemachines.translator.model import WorkflowDef

    project = load_project()
    api.engine.add_workflow(translate_definition(REVIEW, project))
    with_review = replace(
        project, workflows={**project.workflows, str(REVIEW["name"]): WorkflowDef.model_validate(REVIEW)}
    )
    arns = {n: api.engine.state_machine_arn(n) for n in with_review.workflows}
    sfn = api.engine.sfn
    express = {n: sfn.describe_state_machine(stateMachineArn=a)["type"] == "EXPRESS" for n, a in arns.items()}
    monkeypatch.setenv(WORKFLOWS_VARIABLE, workflows_variable(deployed_workflows(with_review, arns, express)))
    return api


def _waiting_review(api: Api) -> tuple[str, dict[str, Any]]:
    workflow_id = _start(api, path=f"/api/workflow/{REVIEW['name']}", body=json.dumps({"image": "cat.png"}))
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        tasks = _status(api, workflow_id)["tasks"]
        waiting = [
            t for t in tasks if t["referenceTaskName"] == "review_ref" and t["status"] == "IN_PROGRESS"
        ]
        if waiting:
            return workflow_id, waiting[0]
        assert time.monotonic() < deadline, "the HUMAN task never waited"
        time.sleep(0.05)


def test_a_task_update_completes_a_waiting_human_task(review):
    workflow_id, task = _waiting_review(review)
    answer = review.call("conductor_api_task_update", path=f"/api/tasks/{workflow_id}/review_ref/COMPLETED")
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["headers"]["Content-Type"] == "text/plain"
    assert answer["body"] == task["taskId"]
    arn = review.execution_arn(REVIEW["name"], workflow_id)
    described = review.engine.wait(arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    # the event file's body, {"verdict": "approved"}, is the task's output
    assert json.loads(described["output"]) == {"verdict": "approved", "image": "cat.png"}
    again = review.call("conductor_api_task_update", path=f"/api/tasks/{workflow_id}/review_ref/COMPLETED")
    assert again["statusCode"] == 409
    assert "already COMPLETED" in _json(again)["message"]


def test_a_task_result_fails_a_waiting_human_task_and_refuses_what_cannot_apply(review):
    workflow_id, task = _waiting_review(review)
    result = json.loads(load_event("conductor_api_task_result")["body"])
    wrong_status = review.call("conductor_api_task_result", body=json.dumps(result | {"status": "DONE"}))
    assert wrong_status["statusCode"] == 400
    assert _json(wrong_status)["validationErrors"][0]["path"] == "status"
    simple = _start(review)
    review.engine.wait(review.execution_arn("image_convert_resize", simple), timeout_seconds=GUARD_SECONDS)
    by_ref = {"workflowInstanceId": simple, "referenceTaskName": "upload_toS3_ref", "status": "COMPLETED"}
    not_waiting = review.call("conductor_api_task_result", body=json.dumps(by_ref))
    assert not_waiting["statusCode"] == 409
    assert "SIMPLE task's result is its Lambda invocation's" in _json(not_waiting)["message"]
    result |= {"workflowInstanceId": workflow_id, "taskId": task["taskId"]}
    answer = review.call("conductor_api_task_result", body=json.dumps(result))
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["body"] == task["taskId"]
    described = review.engine.wait(
        review.execution_arn(REVIEW["name"], workflow_id), timeout_seconds=GUARD_SECONDS
    )
    assert described["status"] == "FAILED"
    document = _status(review, workflow_id)
    assert document["failedReferenceTaskNames"] == ["review_ref"]
    failed = next(t for t in document["tasks"] if t["referenceTaskName"] == "review_ref")
    assert failed["reasonForIncompletion"] == f"{FAILED_ERROR}: the image is blurry"
