"""EVENT `sqs:<queue>` sinks whose queue name has `-` (SQS allows it; a definition-substitution
placeholder does not): the name is escaped in `${QueueUrl_...}` and read back from it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from statemachines.translator.event import queue_of_placeholder, queue_url_placeholder, sqs_sink_queues
from statemachines.translator.expressions import SUBSTITUTION_PLACEHOLDER
from tests.translator.harness import engine, task_defs, translate

QUEUE = "conductor-test-sqs-COMPLETED"  # Conductor OSS's sqs_test_workflow sends to it


def publish(queue: str) -> dict[str, Any]:
    event = {
        "name": "send",
        "taskReferenceName": "send_ref",
        "type": "EVENT",
        "sink": f"sqs:{queue}",
        "inputParameters": {"key": "${workflow.input.key}"},
    }
    return {
        "name": "publish",
        "tasks": [event],
        "outputParameters": {"sent": "${send_ref.output.event_produced}"},
    }


@pytest.mark.parametrize("queue", [QUEUE, "a_b", "a-b", "a_2Db", "_-_", "Q" * 80])
def test_the_placeholder_is_a_substitution_name_and_gives_the_queue_name_back(queue: str) -> None:
    placeholder = queue_url_placeholder(queue)
    assert SUBSTITUTION_PLACEHOLDER.fullmatch("${" + placeholder + "}")
    assert queue_of_placeholder(placeholder) == queue


def test_names_that_differ_only_in_dash_and_underscore_get_different_placeholders() -> None:
    assert len({queue_url_placeholder(q) for q in ("a-b", "a_b", "ab", "a_2Db", "a_5Fb")}) == 5


def test_an_event_sends_to_a_queue_whose_name_has_dashes() -> None:
    asl, diagnostics = translate(publish(QUEUE), task_defs())
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    assert sqs_sink_queues(asl) == [QUEUE]
    placeholder = "${" + queue_url_placeholder(QUEUE) + "}"
    with engine() as runtime:
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        runtime.deploy("publish", json.dumps(asl).replace(placeholder, url))
        result = runtime.run("publish", {"key": "uploads/cat.png"})
        [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"sent": f"sqs:{QUEUE}"}
    assert json.loads(message["Body"])["key"] == "uploads/cat.png"
