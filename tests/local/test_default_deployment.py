"""The default deployment in the local runtime: `image_renditions` as Express, one invocation that
writes every rendition, deterministically; the seeds' workflows stay Standard."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from imgpipe.config import DEFAULT_MEMORY_MB, RENDITIONS_WORKFLOW, DeploymentConfig
from imgpipe.local.engine import LocalAws
from imgpipe.local.results import state_attempts
from tests.support import images


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws(DeploymentConfig.from_cdk_json(), time_scale=0.0) as local:
        yield local


def test_types_follow_the_deployment_rule(aws: LocalAws) -> None:
    from statemachines.project import translate_project

    for name, tw in translate_project().items():
        described = aws.sfn.describe_state_machine(stateMachineArn=aws.state_machine_arn(name))
        expected = aws.config.deployed_workflow_type(name, express_compatible=tw.express_compatible)
        assert described["type"] == expected, name
    arn = aws.state_machine_arn(RENDITIONS_WORKFLOW)
    assert aws.sfn.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"
    upload = aws.state_machine_arn("image_multiple_convert_resize_upload")
    assert aws.sfn.describe_state_machine(stateMachineArn=upload)["type"] == "STANDARD"


def _run(aws: LocalAws, workflow_input: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    arn = aws.start_execution(RENDITIONS_WORKFLOW, workflow_input)
    described = aws.wait(arn, timeout_seconds=120)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    return json.loads(described["output"]), state_attempts(aws.history(arn))


def test_one_invocation_writes_every_rendition_and_a_rerun_rewrites_the_same_bytes(aws: LocalAws) -> None:
    key = "local-runs/default-deployment/photo.jpg"
    aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key=key, Body=images.jpeg_photo(800, 600))
    workflow_input = {
        "fileLocation": f"s3://{aws.deployment.input_bucket}/{key}",
        **aws.config.defaultRecipe.model_dump(mode="json"),
    }
    output, attempts = _run(aws, workflow_input)
    assert attempts == {"image_render_renditions_ref": 1}
    recipe = aws.config.defaultRecipe
    assert output["rendered"] == len(recipe.outputFormats) * len(recipe.outputSizes)
    assert output["skipped"] == 0
    bodies = []
    for rendition in output["renditions"]:
        bucket, rendition_key = rendition["fileLocation"].removeprefix("s3://").split("/", 1)
        assert bucket == aws.deployment.output_bucket
        body = aws.s3.get_object(Bucket=bucket, Key=rendition_key)["Body"].read()
        bodies.append(body)
        with Image.open(io.BytesIO(body)) as image:
            assert image.size == (rendition["outputWidth"], rendition["outputHeight"])
            assert max(image.size) <= rendition["requestedWidth"]

    # an upload's workflow does not ask S3 which renditions exist (skipExisting false): a repeated
    # run rewrites the same keys with the same bytes
    again, _ = _run(aws, workflow_input)
    assert (again["rendered"], again["skipped"]) == (output["rendered"], 0)
    assert [r["fileLocation"] for r in again["renditions"]] == [
        r["fileLocation"] for r in output["renditions"]
    ]
    for rendition, body in zip(again["renditions"], bodies, strict=True):
        bucket, rendition_key = rendition["fileLocation"].removeprefix("s3://").split("/", 1)
        assert aws.s3.get_object(Bucket=bucket, Key=rendition_key)["Body"].read() == body


@pytest.mark.parametrize(
    ("context", "workflow", "compatible", "expected"),
    [
        ({}, RENDITIONS_WORKFLOW, True, "EXPRESS"),
        ({}, "image_convert_resize", True, "STANDARD"),
        ({"imgpipe:workflowType": "EXPRESS"}, "image_convert_resize", True, "EXPRESS"),
        ({"imgpipe:workflowType": "EXPRESS"}, "image_multiple_convert_resize_upload", False, "STANDARD"),
        ({"imgpipe:workflowTypes": {RENDITIONS_WORKFLOW: "STANDARD"}}, RENDITIONS_WORKFLOW, True, "STANDARD"),
    ],
)
def test_deployed_workflow_type(
    context: dict[str, Any], workflow: str, compatible: bool, expected: str
) -> None:
    config = DeploymentConfig.from_context(context)
    assert config.deployed_workflow_type(workflow, express_compatible=compatible) == expected


def test_a_memory_map_without_the_new_task_still_sizes_it() -> None:
    config = DeploymentConfig.from_context({"imgpipe:memorySize": {"image_convert_resize": 2048}})
    assert config.memorySize["image_convert_resize"] == 2048
    assert config.memorySize["image_render_renditions"] == DEFAULT_MEMORY_MB["image_render_renditions"]


def test_an_unknown_log_level_is_refused_naming_the_field() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="stateMachineLogLevel"):
        DeploymentConfig.from_context({"imgpipe:stateMachineLogLevel": "DEBUG"})
