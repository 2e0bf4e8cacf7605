"""An EVENT task with an `sqs:<queue>` sink in the local runtime: the engine creates the queue (as
the stack does), the translated ASL sends the payload to it, and a consumer receives Conductor's
EVENT payload (the task input and the workflow's identity)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from imgpipe.local.conductor_api import create_app
from imgpipe.local.engine import LocalAws

pytestmark = pytest.mark.slow

GUARD_SECONDS = 120  # hang guard for waits, not a performance threshold
ANNOUNCE = {
    "name": "local_announce",
    "version": 3,
    "tasks": [
        {
            "name": "announce",
            "taskReferenceName": "announce_ref",
            "type": "EVENT",
            "inputParameters": {"sink": "sqs:renditions-ready_v1", "key": "${workflow.input.key}"},
        }
    ],
    "outputParameters": {"sent": "${announce_ref.output.event_produced}"},
    "schemaVersion": 2,
}


@pytest.fixture(scope="module")
def local() -> Iterator[tuple[LocalAws, Any]]:
    with LocalAws(time_scale=1.0) as engine:
        yield engine, create_app(engine).test_client()


def test_an_sqs_sink_sends_the_event_payload_to_the_queue_the_engine_created(local) -> None:
    engine, client = local
    posted = client.post("/api/metadata/workflow", data=json.dumps(ANNOUNCE), content_type="application/json")
    assert posted.status_code == 200, posted.get_data(as_text=True)
    url = engine.event_queue_urls["renditions-ready_v1"]
    sqs = engine.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["SqsManagedSseEnabled"])["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    started = client.post(
        "/api/workflow/local_announce",
        data=json.dumps({"key": "uploads/cat.png"}),
        content_type="application/json",
    )
    workflow_id = started.get_data(as_text=True)
    arn = (
        engine.state_machine_arn("local_announce").replace(":stateMachine:", ":execution:")
        + f":{workflow_id}"
    )
    described = engine.wait(arn, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"sent": "sqs:renditions-ready_v1"}
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert [json.loads(m["Body"]) for m in received] == [
        {
            "sink": "sqs:renditions-ready_v1",  # Conductor publishes the whole task input
            "key": "uploads/cat.png",
            "workflowInstanceId": workflow_id,
            "workflowType": "local_announce",
            "workflowVersion": 3,
            "correlationId": None,
        }
    ]


@pytest.mark.parametrize("queue", ["renditions-ready_v1", "q" * 80, "q" * 79 + "r"])
def test_a_local_queue_name_fits_sqs_and_stays_distinct_for_long_names(local, queue: str) -> None:
    from imgpipe.local.engine import local_queue_name
    from statemachines.translator.event import SQS_QUEUE_NAME

    engine, _ = local
    name = local_queue_name(engine.config.prefix, queue)
    assert SQS_QUEUE_NAME.fullmatch(name), name
    assert name.startswith(f"{engine.config.prefix}-")
    assert name.endswith("-local")
    assert name == local_queue_name(engine.config.prefix, queue)  # the same queue on every run
    others = {local_queue_name(engine.config.prefix, q) for q in ("q" * 80, "q" * 79 + "r")}
    assert len(others) == 2
    created = engine.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    assert created.endswith(f"/{name}")
