"""The project's four workflows (and the per-item child), translated and executed by moto's
Step Functions engine with stub workers: their outputs are what Conductor would produce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgpipe.config import DeploymentConfig
from tests.translator.harness import engine, project_translation
from tests.translator.stubs import project_workers, resize

pytestmark = pytest.mark.slow
SOURCE = "s3://uploads/uploads/cat.png"


@pytest.fixture
def deployed():
    with engine() as runtime:
        project_workers(runtime)
        runtime.deploy_translated(project_translation())
        yield runtime


def test_single_image_workflow_resizes_then_publishes(deployed) -> None:
    result = deployed.run(
        "image_convert_resize",
        {
            "fileLocation": SOURCE,
            "recipeParameters": {"outputFormat": "gif", "outputSize": {"width": 300, "height": 300}},
        },
    )
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "fileLocation": "s3://out/renditions/cat.png.300x300.gif",
        "s3Url": "https://out.example/renditions/cat.png.300x300.gif",
    }


def test_missing_optional_input_reaches_the_worker_as_null(deployed) -> None:
    """Conductor resolves a missing path to null; JSONPath `.$` would fail: the context is normalised."""
    received = []

    def recording_resize(event, context):
        received.append(event)
        return resize(event, context)

    deployed.function("image_convert_resize", recording_resize)
    result = deployed.run(
        "image_convert_resize",
        {
            "fileLocation": SOURCE,
            "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 10, "height": 20}},
        },
    )
    assert result.status == "SUCCEEDED", result.cause
    assert received[0]["maintainAspectRatio"] is None
    assert received[0]["outputWidth"] == 10


def test_missing_nested_object_becomes_nulls_not_a_runtime_error(deployed) -> None:
    received = []

    def recording_resize(event, _context):
        received.append(event)
        return {"fileLocation": "s3://work/x.png"}

    deployed.function("image_convert_resize", recording_resize)
    result = deployed.run("image_convert_resize", {"fileLocation": SOURCE})
    assert result.status == "SUCCEEDED", result.cause
    assert received == [
        {
            "fileLocation": SOURCE,
            "outputFormat": None,
            "outputWidth": None,
            "outputHeight": None,
            "maintainAspectRatio": None,
        }
    ]
    # the upload's output lacked s3Url? no: the stub upload returns it; resize's output lacked the rest
    assert result.output["fileLocation"] == "s3://out/renditions/x.png"


def test_static_fork_publishes_three_renditions(deployed) -> None:
    result = deployed.run("image_convert_resize_multiple_formats", {"fileLocation": SOURCE})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "jpgLocation": "s3://out/renditions/cat.png.300x300.jpg",
        "pngLocation": "s3://out/renditions/cat.png.200x200.png",
        "webpLocation": "s3://out/renditions/cat.png.1200x1200.webp",
        "jpgUrl": "https://out.example/renditions/cat.png.300x300.jpg",
        "pngUrl": "https://out.example/renditions/cat.png.200x200.png",
        "webpUrl": "https://out.example/renditions/cat.png.1200x1200.webp",
    }
    assert result.count("ParallelStateEntered") == 1
    assert result.count("TaskSucceeded") == 6


def _dynamic_input(formats, sizes):
    return {
        "fileLocation": SOURCE,
        "outputFormats": formats,
        "outputSizes": [{"width": w, "height": h} for w, h in sizes],
    }


def test_dynamic_fork_join_output_is_a_map_keyed_by_reference_name(deployed) -> None:
    formats, sizes = ["png", "jpg", "webp"], [(300, 300), (200, 200), (1200, 1200)]
    result = deployed.run("image_multiple_convert_resize", _dynamic_input(formats, sizes))
    assert result.status == "SUCCEEDED", result.cause
    joined = result.output["fileLocations"]
    expected = {
        f"image_convert_resize_{f}_{w}x{h}_{i}": f"s3://work/cat.png.{w}x{h}.{f}"
        for i, (f, (w, h)) in enumerate((f, s) for f in formats for s in sizes)
    }
    assert {ref: output["fileLocation"] for ref, output in joined.items()} == expected
    assert all(output["sourceLocation"] == SOURCE for output in joined.values())
    assert result.count("MapIterationSucceeded") == 9
    assert "dynamicJoin" not in json.dumps(result.output)


def test_dynamic_fork_of_sub_workflows_resizes_and_publishes_each_item(deployed) -> None:
    result = deployed.run(
        "image_multiple_convert_resize_upload", _dynamic_input(["webp", "jpg"], [(1200, 1200), (300, 300)])
    )
    assert result.status == "SUCCEEDED", result.cause
    joined = result.output["fileLocations"]
    assert sorted(joined) == [
        "image_convert_resize_jpg_1200x1200_2",
        "image_convert_resize_jpg_300x300_3",
        "image_convert_resize_webp_1200x1200_0",
        "image_convert_resize_webp_300x300_1",
    ]
    first = joined["image_convert_resize_webp_1200x1200_0"]
    assert first["fileLocation"] == "s3://out/renditions/cat.png.1200x1200.webp"
    assert first["s3Url"] == "https://out.example/renditions/cat.png.1200x1200.webp"
    assert first["outputWidth"] == 1200
    assert result.count("TaskSucceeded") == 5  # the planner, then one startExecution.sync:2 per item
    children = deployed.client.list_executions(stateMachineArn=deployed.arns["image_resize_upload"])
    assert len(children["executions"]) == 4
    assert {c["status"] for c in children["executions"]} == {"SUCCEEDED"}


def test_dynamic_fork_with_no_items_joins_to_an_empty_map(deployed) -> None:
    result = deployed.run("image_multiple_convert_resize", _dynamic_input(["png"], []))
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"fileLocations": {}}


MAX_FANOUT = DeploymentConfig.from_cdk_json().maxFanout  # the most renditions one planner call may produce
HISTORY_LIMIT = 25_000
PAYLOAD_LIMIT = 256 * 1024


@pytest.mark.parametrize(
    "workflow", ["image_multiple_convert_resize", "image_multiple_convert_resize_upload"]
)
def test_fan_out_cap_stays_far_below_history_and_payload_limits(deployed, workflow) -> None:
    formats = ["png", "jpg", "webp", "gif", "avif"]
    sizes = [(100 + 10 * i, 100 + 10 * i) for i in range(MAX_FANOUT // len(formats))]
    result = deployed.run(workflow, _dynamic_input(formats, sizes))
    assert result.status == "SUCCEEDED", result.cause
    assert len(result.output["fileLocations"]) == MAX_FANOUT
    # every state transition of the parent is one history event; keep a wide margin to the limit
    assert len(result.events) < HISTORY_LIMIT // 10
    assert result.max_event_bytes() < PAYLOAD_LIMIT // 4
    print(f"{workflow}: {len(result.events)} events, largest {result.max_event_bytes()} bytes")


SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"


def test_the_seed_posts_example_inputs_run_the_fixed_workflows(deployed) -> None:
    single = json.loads((SEEDS / "000" / "input.json").read_text())
    result = deployed.run("image_convert_resize", single)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["fileLocation"].endswith(".300x300.gif")
    dynamic = json.loads((SEEDS / "003" / "input.json").read_text())
    result = deployed.run("image_multiple_convert_resize", dynamic)
    assert result.status == "SUCCEEDED", result.cause
    assert len(result.output["fileLocations"]) == 9  # "This will spawn 9 different processes"
