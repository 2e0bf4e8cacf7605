"""Conductor's task update API on the local REST API (what `imgpipe serve` answers): a HUMAN task
completed, failed and heartbeaten with curl-like requests (`POST /api/tasks/{id}/{ref}/{status}` and
`POST /api/tasks` with a TaskResult), the execution ending as Conductor's would, and the refusals."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from imgpipe.local.conductor_api import create_app
from imgpipe.local.engine import LocalAws
from lambdas.conductor.callbacks import FAILED_ERROR
from tests.local.test_complete_waiting_task import REVIEW

pytestmark = pytest.mark.slow

GUARD_SECONDS = 120  # hang guard for polling, not a performance threshold


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with LocalAws(time_scale=1.0) as engine:
        test_client = create_app(engine).test_client()
        posted = test_client.post(
            "/api/metadata/workflow", data=json.dumps(REVIEW), content_type="application/json"
        )
        assert posted.status_code == 200, posted.get_data(as_text=True)
        yield test_client


def _post(client: Any, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _poll(client: Any, workflow_id: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        document: dict[str, Any] = client.get(f"/api/workflow/{workflow_id}").get_json()
        if done(document):
            return document
        assert time.monotonic() < deadline, f"gave up waiting: {document['status']}"
        time.sleep(0.05)


def _review_task(document: dict[str, Any]) -> dict[str, Any] | None:
    return next((t for t in document["tasks"] if t["referenceTaskName"] == "review_ref"), None)


def _waiting_review(client: Any) -> tuple[str, dict[str, Any]]:
    """A started review workflow, once its HUMAN task waits (IN_PROGRESS)."""
    started = _post(client, f"/api/workflow/{REVIEW['name']}", {"image": "cat.png"})
    workflow_id = started.get_data(as_text=True)

    def waiting(document: dict[str, Any]) -> bool:
        task = _review_task(document)
        return task is not None and task["status"] == "IN_PROGRESS"

    document = _poll(client, workflow_id, waiting)
    task = _review_task(document)
    assert task is not None
    return workflow_id, task


def _ended(document: dict[str, Any]) -> bool:
    return document["status"] != "RUNNING"


def test_completing_a_human_task_by_reference_ends_the_workflow_with_its_output(client: Any) -> None:
    workflow_id, task = _waiting_review(client)
    answer = _post(client, f"/api/tasks/{workflow_id}/review_ref/COMPLETED", {"verdict": "approved"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/plain"
    assert answer.get_data(as_text=True) == task["taskId"]  # Conductor answers the task id
    document = _poll(client, workflow_id, _ended)
    assert document["status"] == "COMPLETED"
    assert document["output"] == {"verdict": "approved", "image": "cat.png"}
    review = _review_task(document)
    assert review is not None
    assert (review["status"], review["outputData"]) == ("COMPLETED", {"verdict": "approved"})
    again = _post(client, f"/api/tasks/{workflow_id}/review_ref/COMPLETED", {"verdict": "twice"})
    assert again.status_code == 409
    assert "already COMPLETED" in again.get_json()["message"]


def test_a_task_result_by_task_id_fails_the_task_with_its_reason(client: Any) -> None:
    workflow_id, task = _waiting_review(client)
    result = {
        "workflowInstanceId": workflow_id,
        "taskId": task["taskId"],
        "status": "FAILED",
        "reasonForIncompletion": "blurry " * 100,
    }
    answer = _post(client, "/api/tasks", result)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_data(as_text=True) == task["taskId"]
    document = _poll(client, workflow_id, _ended)
    assert document["status"] == "FAILED"
    review = _review_task(document)
    assert review is not None
    assert review["status"] == "FAILED"
    assert FAILED_ERROR in review["reasonForIncompletion"]
    assert "blurry" in review["reasonForIncompletion"]
    assert "blurry " * 72 not in review["reasonForIncompletion"]  # TaskResult keeps 500 characters
    assert document["failedReferenceTaskNames"] == ["review_ref"]


def test_in_progress_is_a_heartbeat_and_a_task_result_may_name_the_reference(client: Any) -> None:
    workflow_id, _ = _waiting_review(client)
    beat = _post(client, f"/api/tasks/{workflow_id}/review_ref/IN_PROGRESS", {})
    assert beat.status_code == 200, beat.get_data(as_text=True)
    assert client.get(f"/api/workflow/{workflow_id}").get_json()["status"] == "RUNNING"
    with_output = _post(client, f"/api/tasks/{workflow_id}/review_ref/IN_PROGRESS", {"half": True})
    assert with_output.status_code == 400
    assert with_output.get_json()["validationErrors"][0]["path"] == "body"
    result = {
        "workflowInstanceId": workflow_id,
        "referenceTaskName": "review_ref",
        "status": "COMPLETED",
        "outputData": {"verdict": "rejected"},
    }
    assert _post(client, "/api/tasks", result).status_code == 200
    document = _poll(client, workflow_id, _ended)
    assert document["output"] == {"verdict": "rejected", "image": "cat.png"}


def test_updates_that_cannot_apply_are_refused_naming_why(client: Any) -> None:
    workflow_id, _ = _waiting_review(client)
    noop = _post(client, f"/api/tasks/{workflow_id}/nothing_ref/COMPLETED", {})
    assert noop.status_code == 409
    assert "does not wait to be completed from outside" in noop.get_json()["message"]
    status = _post(client, f"/api/tasks/{workflow_id}/review_ref/DONE", {})
    assert status.status_code == 400
    assert status.get_json()["validationErrors"][0]["path"] == "status"
    missing = _post(client, f"/api/tasks/{workflow_id}/no_such_ref/COMPLETED", {})
    assert missing.status_code == 404
    assert _post(client, "/api/tasks/no-such-workflow/review_ref/COMPLETED", {}).status_code == 404
    empty = _post(client, "/api/tasks", {"status": "COMPLETED", "outputData": []})
    assert empty.status_code == 400
    paths = {error["path"] for error in empty.get_json()["validationErrors"]}
    assert paths == {"workflowInstanceId", "taskId", "outputData"}
    not_an_object = _post(client, f"/api/tasks/{workflow_id}/review_ref/COMPLETED", ["a list"])
    assert not_an_object.status_code == 400
    # none of these touched the waiting task
    assert client.get(f"/api/workflow/{workflow_id}").get_json()["status"] == "RUNNING"
    completed = _post(client, f"/api/tasks/{workflow_id}/review_ref/COMPLETED", {"verdict": "ok"})
    assert completed.status_code == 200
