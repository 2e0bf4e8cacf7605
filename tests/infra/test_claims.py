"""The trigger envelope's table and queue: settings, least-privilege grants, the deployed definition."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imgpipe import envelope
from imgpipe.local.engine import LocalAws

pytestmark = pytest.mark.slow


def _trigger_machine(synth: Any) -> dict[str, Any]:
    machine = synth.stack.workflows.state_machines[synth.config.triggerWorkflow]
    return synth.resources[synth.logical_id(machine)]["Properties"]


def test_claim_table_is_on_demand_encrypted_with_ttl_and_point_in_time_recovery(synth):
    table = synth.resources[synth.logical_id(synth.stack.claims.table)]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": envelope.TTL_ATTRIBUTE, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["KeySchema"] == [{"AttributeName": envelope.CLAIM_KEY, "KeyType": "HASH"}]
    assert "TableName" not in props  # a retained table never blocks the next deploy of the prefix


def test_failed_sources_queue_is_encrypted_tls_only_and_an_output(synth):
    queue_id = synth.logical_id(synth.stack.claims.failed_sources_queue)
    assert synth.resources[queue_id]["Properties"]["SqsManagedSseEnabled"] is True
    statements = synth.queue_policy_statements(synth.stack.claims.failed_sources_queue)
    tls_only = {"Bool": {"aws:SecureTransport": "false"}}
    assert any(s["Effect"] == "Deny" and s.get("Condition") == tls_only for s in statements)
    outputs = synth.template.to_json()["Outputs"]
    assert outputs["FailedSourcesQueueUrl"]["Value"] == {"Ref": queue_id}


def test_only_the_trigger_state_machine_may_write_claims_and_failure_records(synth):
    table_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.claims.table), "Arn"]}
    queue_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.claims.failed_sources_queue), "Arn"]}
    for name, role in synth.stack.workflows.roles.items():
        statements = synth.role_policy_statements(role)
        touching = [s for s in statements if table_arn in _resources(s) or queue_arn in _resources(s)]
        if name != synth.config.triggerWorkflow:
            assert touching == [], name
            continue
        actions = sorted(a for s in touching for a in _actions(s))
        assert actions == [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:SendMessage",
        ]
    # No worker function touches them.
    for function in synth.stack.workers.functions.values():
        dumped = json.dumps(synth.role_policy_statements(function.role))
        assert json.dumps(table_arn) not in dumped
        assert json.dumps(queue_arn) not in dumped


def _resources(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_deployed_trigger_definition_is_the_text_the_local_runtime_creates(synth):
    props = _trigger_machine(synth)
    deployed = props["DefinitionString"]
    assert isinstance(deployed, str)
    subs = props["DefinitionSubstitutions"]
    assert subs[envelope.CLAIM_TABLE_PLACEHOLDER] == {"Ref": synth.logical_id(synth.stack.claims.table)}
    assert subs[envelope.FAILED_SOURCES_QUEUE_PLACEHOLDER] == {
        "Ref": synth.logical_id(synth.stack.claims.failed_sources_queue)
    }
    with LocalAws(synth.config, time_scale=0.0) as aws:
        assert aws.claim_table is not None
        assert aws.failed_sources_queue_url is not None
        arn = aws.deployment.state_machine_arns[synth.config.triggerWorkflow]
        local = aws.sfn.describe_state_machine(stateMachineArn=arn)["definition"]
        values = {
            envelope.CLAIM_TABLE_PLACEHOLDER: aws.claim_table,
            envelope.FAILED_SOURCES_QUEUE_PLACEHOLDER: aws.failed_sources_queue_url,
        }
        from statemachines.project import substitute

        arns = {f"LambdaArn_{t}": a for t, a in aws.deployment.function_arns.items()}
        arns |= {f"StateMachineArn_{w}": a for w, a in aws.deployment.state_machine_arns.items()}
        assert substitute(deployed, values | arns) == local
    wrapped = json.loads(deployed)
    assert wrapped["StartAt"] == "trigger: started by an upload?"
    (branch,) = wrapped["States"]["trigger: run workflow"]["Branches"]
    translated = synth.translated[synth.config.triggerWorkflow].asl
    assert branch == {k: v for k, v in translated.items() if k not in envelope.MACHINE_ONLY_FIELDS}
