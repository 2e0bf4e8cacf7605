"""`imgpipe start` flags -> the seeds' input shape of each workflow; stack outputs -> the target."""

from __future__ import annotations

import pytest

from imgpipe.config import DeploymentConfig
from imgpipe.local import remote
from imgpipe.local.runner import UsageError

CONFIG = DeploymentConfig.from_cdk_json()
IMAGE = "s3://bucket/uploads/a.jpg"


def _build(workflow: str | None, formats: str | None = None, sizes: str | None = None, keep: bool = True):
    return remote.build_input(
        workflow,
        file_location=IMAGE,
        formats=remote.parse_formats(formats) if formats else None,
        sizes=remote.parse_sizes(sizes) if sizes else None,
        keep_aspect=keep,
        config=CONFIG,
    )


def test_dynamic_fork_shape_from_flags() -> None:
    assert _build("image_multiple_convert_resize", "PNG, jpg,webp", "300x300, 200X100") == {
        "fileLocation": IMAGE,
        "outputFormats": ["png", "jpg", "webp"],
        "outputSizes": [{"width": 300, "height": 300}, {"width": 200, "height": 100}],
        "maintainAspectRatio": True,
    }


def test_unset_formats_and_sizes_are_the_default_recipe() -> None:
    built = _build("image_multiple_convert_resize_upload")
    assert built["outputFormats"] == CONFIG.defaultRecipe.outputFormats
    assert built["outputSizes"] == [s.model_dump() for s in CONFIG.defaultRecipe.outputSizes]


def test_single_rendition_shapes() -> None:
    assert _build("image_convert_resize", "gif", "100x50", keep=False) == {
        "fileLocation": IMAGE,
        "recipeParameters": {
            "outputFormat": "gif",
            "outputSize": {"width": 100, "height": 50},
            "maintainAspectRatio": False,
        },
    }
    assert _build("image_resize_upload", "webp", "64x64") == {
        "fileLocation": IMAGE,
        "outputFormat": "webp",
        "outputWidth": 64,
        "outputHeight": 64,
        "maintainAspectRatio": True,
    }


@pytest.mark.parametrize(
    ("workflow", "formats", "sizes", "message"),
    [
        ("image_convert_resize", "png,jpg", "10x10", "exactly one --formats"),
        ("image_convert_resize_multiple_formats", "png", None, "fixed"),
        ("image_multiple_convert_resize", None, "300", "WIDTHxHEIGHT"),
        ("image_multiple_convert_resize", None, "0x10", "at least 1"),
        ("image_multiple_convert_resize", " , ", None, "one or more formats"),
    ],
)
def test_bad_flags_name_the_flag(workflow: str, formats: str | None, sizes: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _build(workflow, formats, sizes)


def test_stack_outputs_give_the_state_machine_and_buckets() -> None:
    outputs = {
        "InputBucketName": "in",
        "OutputBucketName": "out",
        "StateMachineArnimageconvertresize": "arn:aws:states:eu-west-1:111122223333:stateMachine:x-icr",
    }
    target = remote.from_stack(outputs, "image_convert_resize", "x")
    assert target == remote.Target(
        outputs["StateMachineArnimageconvertresize"], "image_convert_resize", "in", "out"
    )
    with pytest.raises(UsageError, match="StateMachineArnimageresizeupload"):
        remote.from_stack(outputs, "image_resize_upload", "x")


def test_workflow_name_from_a_deployed_state_machine_arn() -> None:
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{CONFIG.prefix}-image_convert_resize"
    assert remote.workflow_of(arn, CONFIG) == "image_convert_resize"
    assert remote.workflow_of("arn:aws:states:us-east-1:123456789012:stateMachine:other", CONFIG) is None
