"""A HUMAN task in the local runtime (what `imgpipe serve` runs): posted and started through the
Conductor REST API, completed with `imgpipe complete`'s calls, finished as Conductor would finish it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from imgpipe.commands.complete import TaskNotWaiting, complete_task, waiting_task_token
from imgpipe.local.conductor_api import create_app
from imgpipe.local.engine import LocalAws

pytestmark = pytest.mark.slow

GUARD_SECONDS = 120  # hang guard for polling, not a performance threshold
REVIEW = {
    "name": "local_review",
    "version": 1,
    "tasks": [
        {"name": "nothing", "taskReferenceName": "nothing_ref", "type": "NOOP"},
        {
            "name": "review",
            "taskReferenceName": "review_ref",
            "type": "HUMAN",
            "inputParameters": {"image": "${workflow.input.image}"},
        },
    ],
    "outputParameters": {"verdict": "${review_ref.output.verdict}", "image": "${review_ref.input.image}"},
    "schemaVersion": 2,
}


@pytest.fixture(scope="module")
def local() -> Iterator[tuple[LocalAws, Any]]:
    with LocalAws(time_scale=1.0) as engine:
        yield engine, create_app(engine).test_client()


def _poll(check: Any) -> Any:
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        value = check()
        if value is not None:
            return value
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def test_a_human_task_waits_until_completed_then_the_workflow_ends_with_its_output(local) -> None:
    engine, client = local
    posted = client.post("/api/metadata/workflow", data=json.dumps(REVIEW), content_type="application/json")
    assert posted.status_code == 200, posted.get_data(as_text=True)
    started = client.post(
        "/api/workflow/local_review", data=json.dumps({"image": "cat.png"}), content_type="application/json"
    )
    workflow_id = started.get_data(as_text=True)
    execution_arn = (
        engine.state_machine_arn("local_review").replace(":stateMachine:", ":execution:") + f":{workflow_id}"
    )

    def waiting() -> str | None:
        try:
            return waiting_task_token(engine.sfn, execution_arn, "review_ref")
        except TaskNotWaiting:
            return None

    _poll(waiting)
    assert client.get(f"/api/workflow/{workflow_id}").get_json()["status"] == "RUNNING"
    complete_task(engine.sfn, execution_arn, "review_ref", {"verdict": "approved"})

    def ended() -> dict[str, Any] | None:
        described = engine.sfn.describe_execution(executionArn=execution_arn)
        return None if described["status"] == "RUNNING" else described

    described = _poll(ended)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"verdict": "approved", "image": "cat.png"}
    document = client.get(f"/api/workflow/{workflow_id}").get_json()
    assert document["status"] == "COMPLETED"
    assert document["output"] == {"verdict": "approved", "image": "cat.png"}
