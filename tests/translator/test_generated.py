"""The committed ASL and diagrams are what the translator produces now (golden files), every
definition is accepted by moto's ASL parser, and the facts CDK reads are right."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from imgpipe.cli import main
from statemachines.project import load_project, substitute, translate_project
from statemachines.translator.mermaid import workflow_diagram

GENERATED = Path(__file__).resolve().parents[2] / "statemachines" / "generated"
WORKFLOWS = [
    "image_convert_resize",
    "image_convert_resize_multiple_formats",
    "image_multiple_convert_resize",
    "image_multiple_convert_resize_upload",
    "image_renditions",
    "image_resize_upload",
]
ROLE = "arn:aws:iam::123456789012:role/sfn"


def fake_arns(asl_json: str) -> dict[str, str]:
    import re

    values = {}
    for key in re.findall(r"\$\{([A-Za-z0-9_]+)\}", asl_json):
        kind, _, name = key.partition("_")
        values[key] = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
            if kind == "LambdaArn"
            else f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
        )
    return values


def test_the_project_has_the_agreed_workflows() -> None:
    assert sorted(translate_project()) == WORKFLOWS


@pytest.mark.parametrize("name", WORKFLOWS)
def test_generated_files_are_up_to_date(name: str) -> None:
    """Regenerate with `make translate` when this fails."""
    translated = translate_project()[name]
    assert (GENERATED / f"{name}.asl.json").read_text() == translated.asl_json + "\n"
    assert (GENERATED / f"{name}.mmd").read_text() == workflow_diagram(load_project().workflows[name])


def test_cli_writes_the_same_files(tmp_path: Path) -> None:
    workflows = Path(__file__).resolve().parents[2] / "statemachines" / "conductor" / "workflows"
    assert main(["translate", str(workflows), "--out", str(tmp_path), "--diagram"]) == 0
    for name in WORKFLOWS:
        assert (tmp_path / f"{name}.asl.json").read_text() == (GENERATED / f"{name}.asl.json").read_text()
        assert (tmp_path / f"{name}.mmd").read_text() == (GENERATED / f"{name}.mmd").read_text()


def test_every_definition_is_accepted_by_motos_asl_parser() -> None:
    with mock_aws():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        for name, translated in translate_project().items():
            definition = substitute(translated.asl_json, fake_arns(translated.asl_json))
            arn = client.create_state_machine(name=name, definition=definition, roleArn=ROLE)[
                "stateMachineArn"
            ]
            assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"]) == json.loads(
                definition
            )


def test_definitions_stay_far_below_the_size_limit() -> None:
    for translated in translate_project().values():
        assert len(translated.asl_json.encode()) < 1_048_576 // 10


def test_no_pass_state_relies_on_a_null_result() -> None:
    """Some serialisers drop `"Result": null`, which would turn the Pass into a copy of its input."""
    for translated in translate_project().values():
        assert '"Result": null' not in translated.asl_json


def test_facts_cdk_reads() -> None:
    translated = translate_project()
    single = translated["image_convert_resize"]
    assert single.lambda_tasks == {"image_convert_resize", "upload_toS3"}
    assert single.child_workflows == frozenset()
    # no children, no long Wait: Express is allowed (its worst case is reported, not a veto)
    assert single.express_compatible
    assert single.timeout_seconds is None
    assert single.concurrency_hints == {"image_convert_resize": 100, "upload_toS3": 100}
    fan_out = translated["image_multiple_convert_resize_upload"]
    assert fan_out.lambda_tasks == {"image_multiple_convert_resize"}
    assert fan_out.child_workflows == {"image_resize_upload"}
    assert not fan_out.express_compatible
    assert translated["image_multiple_convert_resize"].lambda_tasks == {
        "image_multiple_convert_resize",
        "image_convert_resize",
    }
    assert all(d.severity == "warning" for tw in translated.values() for d in tw.diagnostics)


def test_substitute_replaces_placeholders_exactly_and_refuses_missing_values() -> None:
    text = '{"a": "${LambdaArn_x}", "b": "${LambdaArn_x}-${StateMachineArn_y}", "c": "$x {y}"}'
    assert substitute(text, {"LambdaArn_x": "X", "StateMachineArn_y": "Y"}) == (
        '{"a": "X", "b": "X-Y", "c": "$x {y}"}'
    )
    with pytest.raises(KeyError, match="StateMachineArn_y"):
        substitute(text, {"LambdaArn_x": "X"})


def test_every_definition_passes_cfn_lints_state_machine_schema() -> None:
    """A second validator beside moto's parser: cfn-lint checks `Definition` against AWS's ASL schema
    (rule E3601), so a field or value AWS would reject fails here too."""
    from cfnlint.api import lint

    resources = {}
    for name, translated in translate_project().items():
        definition = json.loads(substitute(translated.asl_json, fake_arns(translated.asl_json)))
        resources[name.replace("_", "")] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"RoleArn": ROLE, "Definition": definition},
        }
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    assert [str(match) for match in lint(json.dumps(template), regions=["us-east-1"])] == []
    broken = json.loads(json.dumps(template))
    next(iter(broken["Resources"].values()))["Properties"]["Definition"]["States"]["Start"]["Type"] = "Passs"
    assert any("E3601" in str(match) for match in lint(json.dumps(broken), regions=["us-east-1"]))
