"""The javascript_evaluator worker is deployed only when a translated workflow runs JavaScript, with
its own V8 layer, no S3 access, and nag-clean; the project's own stack (no JavaScript) has none."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from imgpipe import envelope
from imgpipe.config import CDK_JSON, FUNCTION_TIMEOUT_MARGIN_SECONDS, JAVASCRIPT_TASK, DeploymentConfig
from infra.stack import ImgpipeStack
from statemachines.project import load_project
from statemachines.translator.model import WorkflowDef
from statemachines.translator.script_evaluation import JAVASCRIPT_TIMEOUT_SECONDS

pytestmark = pytest.mark.slow

SCRIPTED = {
    "name": "scripted",
    "tasks": [
        {
            "name": "double",
            "taskReferenceName": "double",
            "type": "INLINE",
            "inputParameters": {
                "n": "${workflow.input.n}",
                "evaluatorType": "javascript",
                "expression": "$.n * 2",
            },
        }
    ],
}


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImgpipeStack, dict[str, Any], Path]:
    """The real stack over the project's workflows plus one INLINE workflow, nag applied."""
    base = load_project()
    project = replace(base, workflows={**base.workflows, "scripted": WorkflowDef.model_validate(SCRIPTED)})
    config = DeploymentConfig.from_cdk_json()
    outdir = tmp_path_factory.mktemp("cdk.out.scripted")
    app = App(context=json.loads(CDK_JSON.read_text())["context"], outdir=str(outdir))
    stack = ImgpipeStack(
        app,
        "scripted",
        config=config,
        project=project,
        translated=envelope.translate_for_deployment(config, project),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    template = app.synth().get_stack_by_name(stack.stack_name).template  # fails on any nag error
    return stack, template["Resources"], outdir


def statements(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_project_stack_has_no_javascript_evaluator(synth) -> None:
    assert JAVASCRIPT_TASK not in synth.stack.workers.functions
    assert len(synth.of_type("AWS::Lambda::LayerVersion")) == 1


def test_a_workflow_with_javascript_gets_the_evaluator_with_its_own_v8_layer(scripted) -> None:
    stack, resources, outdir = scripted
    function = stack.workers.functions[JAVASCRIPT_TASK]
    props = resources[Stack.of(stack).get_logical_id(function.node.default_child)]["Properties"]
    assert props["Handler"] == "lambdas.javascript_evaluator.handler.handler"
    assert props["MemorySize"] == 512
    assert props["Timeout"] == JAVASCRIPT_TIMEOUT_SECONDS + FUNCTION_TIMEOUT_MARGIN_SECONDS
    assert len(props["Layers"]) == 2
    layers = [r for r in resources.values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert len(layers) == 2
    # the image workers keep the shared layer only: V8 is not in their bundle
    image_props = resources[
        Stack.of(stack).get_logical_id(stack.workers.functions["image_convert_resize"].node.default_child)
    ]["Properties"]
    assert len(image_props["Layers"]) == 1
    assets = json.loads((outdir / f"{stack.stack_name}.assets.json").read_text())["files"]
    layer_dirs = [
        outdir / asset["source"]["path"]
        for asset in assets.values()
        if (outdir / asset["source"]["path"] / "python").is_dir()
    ]
    with_v8 = [d for d in layer_dirs if (d / "python" / "py_mini_racer" / "libmini_racer.so").is_file()]
    assert len(with_v8) == 1
    # an aarch64 ELF (e_machine 183), as Lambda arm64 loads it
    header = (with_v8[0] / "python" / "py_mini_racer" / "libmini_racer.so").read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == 183


def test_the_evaluator_may_write_its_logs_and_traces_and_nothing_else(scripted) -> None:
    stack, resources, _ = scripted
    role = stack.workers.functions[JAVASCRIPT_TASK].role
    role_id = Stack.of(stack).get_logical_id(role.node.default_child)
    actions = {
        action
        for statement in statements(resources, role_id)
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert actions <= {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert not [a for a in actions if a.startswith("s3:")]


def test_only_the_workflow_that_runs_javascript_may_invoke_it(scripted) -> None:
    stack, resources, _ = scripted
    function_id = Stack.of(stack).get_logical_id(stack.workers.functions[JAVASCRIPT_TASK].node.default_child)
    invokers = [
        name
        for name, machine in stack.workflows.state_machines.items()
        for statement in statements(
            resources, Stack.of(stack).get_logical_id(machine.role.node.default_child)
        )
        if "lambda:InvokeFunction" in json.dumps(statement["Action"])
        and function_id in json.dumps(statement["Resource"])
    ]
    assert invokers == ["scripted"]
