"""EVENT tasks with an `sqs:<queue>` sink, as synthesized: one queue per queue name (shared by every
workflow that sends to it), encrypted, TLS-only, with a dead-letter queue that outlives it; each
sending state machine may SendMessage to that queue and nothing else; its URL is what the ASL's
placeholder became; cdk-nag passes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.workflows import EVENT_DEAD_LETTER_RETENTION, EVENT_MAX_RECEIVES, EVENT_RETENTION
from statemachines.translator.event import queue_url_placeholder, sqs_sink_queues

pytestmark = pytest.mark.slow

QUEUE = "renditions-ready_v1"  # `-` and `_`: both escaped in its placeholder
SENDERS = ("announce_upload", "review_upload")


def _queue(synth: Any, name: str = QUEUE) -> tuple[str, dict[str, Any]]:
    workflows = synth.stack.workflows
    logical = synth.logical_id(workflows.event_queues[name])
    return logical, synth.resources[logical]["Properties"]


def test_one_encrypted_queue_per_sink_name_with_a_dead_letter_queue_that_outlives_it(
    synth_callbacks_and_sinks,
):
    synth = synth_callbacks_and_sinks
    assert [sqs_sink_queues(synth.translated[name].asl) for name in SENDERS] == [[QUEUE], [QUEUE]]
    workflows = synth.stack.workflows
    assert set(workflows.event_queues) == {QUEUE}  # two senders, one queue
    logical, queue = _queue(synth)
    dead_letters = synth.logical_id(workflows.dead_letter_queues[QUEUE])
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == EVENT_RETENTION.to_seconds()
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letters, "Arn"]},
        "maxReceiveCount": EVENT_MAX_RECEIVES,
    }
    dlq = synth.resources[dead_letters]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == EVENT_DEAD_LETTER_RETENTION.to_seconds() == 14 * 86400
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    assert "QueueName" not in queue
    assert "QueueName" not in dlq
    for store in (workflows.event_queues[QUEUE], workflows.dead_letter_queues[QUEUE]):
        (tls,) = [s for s in synth.queue_policy_statements(store) if s["Effect"] == "Deny"]
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert synth.resources[synth.logical_id(store)]["DeletionPolicy"] == "Retain"  # cdk.json's default
    outputs = synth.template.to_json()["Outputs"]
    urls = [
        o for o in outputs.values() if o.get("Description") == f"SQS queue of EVENT tasks' sink sqs:{QUEUE}"
    ]
    assert [o["Value"] for o in urls] == [{"Ref": logical}]


def test_each_sender_may_send_to_its_queue_only_and_its_definition_names_the_queue(synth_callbacks_and_sinks):
    synth = synth_callbacks_and_sinks
    logical, _ = _queue(synth)
    for name in SENDERS:
        role = synth.stack.workflows.roles[name]
        sqs_statements = [s for s in synth.role_policy_statements(role) if "sqs:" in json.dumps(s["Action"])]
        assert sqs_statements == [
            {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": [logical, "Arn"]}}
        ]
        machine = synth.resources[synth.logical_id(synth.stack.workflows.state_machines[name])]
        substitutions = machine["Properties"]["DefinitionSubstitutions"]
        assert substitutions[queue_url_placeholder(QUEUE)] == {"Ref": logical}
        assert queue_url_placeholder(QUEUE) == "QueueUrl_renditions_2Dready_5Fv1"
    # the project's own workflows send to no queue
    others = set(synth.stack.workflows.roles) - set(SENDERS)
    for name in others:
        statements = synth.role_policy_statements(synth.stack.workflows.roles[name])
        assert "sqs:SendMessage" not in json.dumps([s["Action"] for s in statements]) or (
            name == synth.config.triggerWorkflow  # the envelope's failed-sources queue
        )


def test_nag_passes_with_the_event_queues(synth_callbacks_and_sinks):
    report = json.loads((synth_callbacks_and_sinks.outdir / "validation-report.json").read_text())
    assert all(r.get("conclusion") != "failure" for r in report["pluginReports"])
    queues = set(synth_callbacks_and_sinks.stack.workflows.event_queues.values()) | set(
        synth_callbacks_and_sinks.stack.workflows.dead_letter_queues.values()
    )
    for queue in queues:  # none needed an acknowledgement: SQS2, SQS3 and SQS4 hold
        assert not [entry for entry in queue.node.metadata if "acknowledg" in entry.type.lower()]
