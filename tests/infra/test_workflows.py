"""State machines: one per translated workflow, their roles, and the ASL identity with the translator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match

from imgpipe import envelope
from imgpipe.config import state_machine_output_key
from statemachines.project import substitute
from statemachines.translator.emitter import EXPRESS_MAX_SECONDS
from tests.infra.conftest import synthesize

pytestmark = pytest.mark.slow

REGION, ACCOUNT = "us-east-1", "123456789012"


def _stand_ins(synth: Any) -> dict[str, Any]:
    """Logical id -> stand-in ARN, for every function and state machine."""
    arns: dict[str, str] = {}
    for task, function in synth.stack.workers.functions.items():
        arns[synth.logical_id(function)] = (
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{synth.config.function_name(task)}"
        )
    for name, machine in synth.stack.workflows.state_machines.items():
        arns[synth.logical_id(machine)] = (
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{synth.config.state_machine_name(name)}"
        )
    # The envelope's table name and queue URL (both `Ref`s).
    arns[synth.logical_id(synth.stack.claims.table)] = "imgpipe-claims"
    arns[synth.logical_id(synth.stack.claims.failed_sources_queue)] = (
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/imgpipe-failed-sources"
    )
    return arns


def _resolve(value: Any, arns: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return arns[value["Fn::GetAtt"][0]]
    if "Ref" in value:
        return arns[value["Ref"]]
    raise AssertionError(f"unexpected intrinsic in a definition substitution: {value}")


def test_one_state_machine_per_workflow(synth):
    backfill = synth.config.state_machine_name("backfill")  # tests/infra/test_backfill.py
    machines = {
        logical_id: machine
        for logical_id, machine in synth.of_type("AWS::StepFunctions::StateMachine").items()
        if machine["Properties"]["StateMachineName"] != backfill
    }
    assert len(machines) == len(synth.translated)
    names = {m["Properties"]["StateMachineName"] for m in machines.values()}
    assert names == {synth.config.state_machine_name(n) for n in synth.translated}
    for machine in machines.values():
        props = machine["Properties"]
        assert props["TracingConfiguration"] == {"Enabled": True}
        # the cheap default: errors only, no execution data (cdk.json stateMachineLog*)
        assert props["LoggingConfiguration"]["Level"] == "ERROR"
        assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
        group_arn = props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
        group = synth.resources[group_arn["Fn::GetAtt"][0]]
        assert group["Properties"]["RetentionInDays"] == synth.config.logRetentionDays


def test_deployed_asl_is_what_the_translator_emits(synth):
    arns = _stand_ins(synth)
    # The trigger workflow is deployed inside its envelope (imgpipe.envelope), the rest as translated.
    for name, tw in envelope.for_deployment(synth.translated, synth.config).items():
        props = synth.resources[synth.logical_id(synth.stack.workflows.state_machines[name])]["Properties"]
        deployed = props["DefinitionString"]
        assert isinstance(deployed, str), "the definition must be the translator's text, not a rebuilt one"
        substitutions = {
            key: _resolve(value, arns) for key, value in props.get("DefinitionSubstitutions", {}).items()
        }
        expected_keys = {f"LambdaArn_{t}" for t in tw.lambda_tasks} | {
            f"StateMachineArn_{c}" for c in tw.child_workflows
        }
        if name == synth.config.triggerWorkflow:
            expected_keys |= {envelope.CLAIM_TABLE_PLACEHOLDER, envelope.FAILED_SOURCES_QUEUE_PLACEHOLDER}
        assert set(substitutions) == expected_keys
        rendered = substitute(deployed, substitutions)
        assert "${" not in rendered
        assert rendered == substitute(tw.asl_json, substitutions)
        json.loads(rendered)


def test_roles_invoke_only_their_own_functions_and_children(synth):
    functions = synth.stack.workers.functions
    machines = synth.stack.workflows.state_machines
    for name, tw in synth.translated.items():
        role = machines[name].role
        role_id = synth.logical_id(role)
        statements = [
            s
            for p in synth.of_type("AWS::IAM::Policy").values()
            if {"Ref": role_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        granted: dict[str, list[Any]] = {}
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for action in actions:
                granted.setdefault(action, []).extend(resources)
        expected_invoke = [{"Fn::GetAtt": [synth.logical_id(functions[t]), "Arn"]} for t in tw.lambda_tasks]
        assert sorted(map(json.dumps, granted.get("lambda:InvokeFunction", []))) == sorted(
            map(json.dumps, expected_invoke)
        )
        children = [{"Ref": synth.logical_id(machines[c])} for c in tw.child_workflows]
        assert sorted(map(json.dumps, granted.get("states:StartExecution", []))) == sorted(
            map(json.dumps, children)
        )
        if tw.child_workflows:
            assert len(granted["states:DescribeExecution"]) == len(tw.child_workflows)
            rule = json.dumps(granted["events:PutRule"])
            assert "StepFunctionsGetEventsForStepFunctionsExecutionRule" in rule
            assert set(granted) >= {"events:PutTargets", "events:DescribeRule", "states:StopExecution"}
        else:
            assert not [a for a in granted if a.startswith(("states:", "events:"))]
        assert not [a for a in granted if a.endswith(":*") or a == "*"]


def test_trigger_workflow_arn_in_outputs(synth):
    outputs = synth.template.to_json()["Outputs"]
    trigger = synth.stack.workflows.state_machines[synth.config.triggerWorkflow]
    command = json.dumps(outputs["StartExecutionCommand"]["Value"])
    assert "aws stepfunctions start-execution --state-machine-arn" in command
    assert synth.logical_id(trigger) in command
    assert outputs["InputBucketName"]["Value"] == {"Ref": synth.logical_id(synth.stack.storage.input_bucket)}
    assert outputs["OutputBucketName"]["Value"] == {
        "Ref": synth.logical_id(synth.stack.storage.output_bucket)
    }
    arn_outputs = [o for k, o in outputs.items() if k.startswith("StateMachineArn")]
    assert len(arn_outputs) == len(synth.translated) + 1  # + the backfill (tests/infra/test_backfill.py)
    backfill = outputs[state_machine_output_key("backfill")]["Value"]
    assert backfill == {"Ref": synth.logical_id(synth.stack.backfill.state_machine)}


def _machine_types(synth: Any) -> dict[str, str]:
    machines = synth.stack.workflows.state_machines
    return {
        name: synth.resources[synth.logical_id(machine)]["Properties"]["StateMachineType"]
        for name, machine in machines.items()
    }


def test_the_default_deployment_is_image_renditions_as_express_and_the_seeds_stay_standard(synth):
    assert synth.config.triggerWorkflow == "image_renditions"
    types = _machine_types(synth)
    assert types.pop("image_renditions") == "EXPRESS"
    assert set(types.values()) == {"STANDARD"}  # every seed workflow deploys as translated, Standard
    # as deployed, inside the trigger envelope: every retry taken, every attempt timing out
    deployed = envelope.for_deployment(synth.translated, synth.config)["image_renditions"]
    assert deployed.worst_case_seconds is not None
    assert deployed.worst_case_seconds <= EXPRESS_MAX_SECONDS
    assert not Annotations.from_stack(synth.stack).find_warning(
        "*", Match.string_like_regexp("stops at 300 s")
    )


def test_express_everywhere_keeps_sync_children_standard(tmp_path):
    everything = synthesize(
        tmp_path,
        {
            "imgpipe:workflowType": "EXPRESS",
            "imgpipe:stateMachineLogLevel": "ALL",
            "imgpipe:stateMachineLogExecutionData": True,
        },
    )
    types = _machine_types(everything)
    for name, tw in everything.translated.items():
        assert types[name] == ("EXPRESS" if tw.express_compatible else "STANDARD"), name
    assert types["image_multiple_convert_resize_upload"] == "STANDARD"  # a Map of .sync children
    for machine in everything.of_type("AWS::StepFunctions::StateMachine").values():
        assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
        assert machine["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is True
