"""The dynamic-fork planner: orkesworkers' shapes, the Map list, limits and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.adapters.sources import read_source
from lambdas.core.errors import InvalidRecipeError, SourceRefusedError
from lambdas.core.inputs import MAX_LOCATION_LENGTH
from lambdas.core.planner import MAX_PLAN_BYTES, plan
from lambdas.services.plan import plan_renditions
from lambdas.settings import PlannerSettings, ResizeSettings
from tests.lambdas.conftest import load_event
from tests.support.worker_settings import settings_from

STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024


def run(event: dict[str, Any], max_fanout: int = 50, max_dimension: int = 8192) -> dict[str, Any]:
    return plan(event, max_dimension=max_dimension, max_fanout=max_fanout)


def test_seed_event_gives_orkesworkers_shapes() -> None:
    event = load_event("image_multiple_convert_resize")
    result = run(event)
    expected_refs = [
        f"image_convert_resize_{fmt}_{w}x{h}_{i}"
        for i, (fmt, (w, h)) in enumerate(
            (fmt, size) for fmt in ("png", "jpg", "webp") for size in ((300, 300), (200, 200), (1200, 1200))
        )
    ]
    assert result["dynamicTasks"] == [
        {"name": "image_convert_resize", "taskReferenceName": ref, "type": "SIMPLE"} for ref in expected_refs
    ]
    assert list(result["dynamicTasksInput"]) == expected_refs
    assert result["dynamicTasksInput"]["image_convert_resize_jpg_200x200_4"] == {
        "fileLocation": event["fileLocation"],
        "outputFormat": "jpg",
        "outputWidth": 200,
        "outputHeight": 200,
        "maintainAspectRatio": True,
    }
    items = result["dynamicForkItems"]
    assert [item["taskReferenceName"] for item in items] == expected_refs
    for item in items:
        assert item["type"] == "SIMPLE"
        assert item["name"] == "image_convert_resize"
        assert item["input"] == result["dynamicTasksInput"][item["taskReferenceName"]]
        assert "subWorkflowName" not in item


def test_optional_recipe_fields_are_passed_through_only_when_given() -> None:
    result = run(
        load_event("image_multiple_convert_resize", fit="cover", quality=70, maintainAspectRatio=None)
    )
    first = result["dynamicForkItems"][0]["input"]
    assert first["fit"] == "cover"
    assert first["quality"] == 70
    assert first["maintainAspectRatio"] is True
    assert "background" not in first
    assert "upscale" not in first


def test_sub_workflow_items() -> None:
    event = load_event("image_multiple_convert_resize", subWorkflowName="image_convert_resize_upload")
    result = run(event)
    task = result["dynamicTasks"][0]
    assert task == {
        "name": "image_convert_resize_upload",
        "taskReferenceName": "image_convert_resize_png_300x300_0",
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": "image_convert_resize_upload", "version": 1},
    }
    item = result["dynamicForkItems"][0]
    assert item["type"] == "SUB_WORKFLOW"
    assert item["name"] == item["subWorkflowName"] == "image_convert_resize_upload"
    assert item["input"]["outputWidth"] == 300


def test_duplicates_are_removed_and_numbering_stays_contiguous() -> None:
    event = load_event(
        "image_multiple_convert_resize",
        outputFormats=["jpg", "JPEG", "png", "jpeg"],
        outputSizes=[{"width": 10, "height": 10}, {"width": 10, "height": 10}, {"width": 20, "height": 10}],
    )
    refs = [task["taskReferenceName"] for task in run(event)["dynamicTasks"]]
    assert refs == [
        "image_convert_resize_jpg_10x10_0",
        "image_convert_resize_jpg_20x10_1",
        "image_convert_resize_png_10x10_2",
        "image_convert_resize_png_20x10_3",
    ]


@pytest.mark.parametrize(
    ("replacements", "field", "problem"),
    [
        ({"outputFormats": ["png", "bmp"]}, "outputFormats.1", "unknown output format"),
        ({"outputFormats": []}, "outputFormats", "at least 1"),
        ({"outputSizes": []}, "outputSizes", "at least 1"),
        ({"outputSizes": [{"width": 0, "height": 10}]}, "outputSizes.0.width", "greater than 0"),
        ({"outputSizes": [{"width": 10}]}, "outputSizes.0.height", "required"),
        ({"outputSizes": [{"width": 10, "height": "10"}]}, "outputSizes.0.height", "integer"),
        ({"outputSizes": [{"width": 10, "height": 9000}]}, "outputSizes.0.height", "maximum"),
        ({"outputSizes": [{"width": 10, "height": 10, "depth": 3}]}, "outputSizes.0.depth", "unknown field"),
        ({"fileLocation": None}, "fileLocation", "required"),
        ({"fileLocation": "s3://b/" + "k" * MAX_LOCATION_LENGTH}, "fileLocation", "at most"),
        ({"maintainAspectRatio": False, "fit": "cover"}, "fit", "contradicts"),
        ({"background": "nope"}, "background", "not a colour"),
        ({"subWorkflowName": "bad name!"}, "subWorkflowName", "pattern"),
    ],
)
def test_invalid_requests_name_the_field(replacements: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(InvalidRecipeError) as caught:
        run(load_event("image_multiple_convert_resize", **replacements))
    assert caught.value.field == field
    assert problem in str(caught.value)


def test_fan_out_cap_counts_after_deduplication() -> None:
    sizes = [{"width": w, "height": w} for w in range(1, 11)]
    event = load_event(
        "image_multiple_convert_resize", outputFormats=["png", "png", "jpg"], outputSizes=sizes
    )
    assert len(run(event, max_fanout=20)["dynamicForkItems"]) == 20
    with pytest.raises(
        InvalidRecipeError, match="2 formats x 10 sizes = 20 renditions exceeds MAX_FANOUT=19"
    ):
        run(event, max_fanout=19)


def plan_at_cap(location: str, sub_workflow: bool) -> dict[str, Any]:
    sizes = [{"width": 1000 + w, "height": 2000 + w} for w in range(10)]
    event = load_event(
        "image_multiple_convert_resize",
        fileLocation=location,
        outputFormats=["jpeg", "png", "webp", "gif", "avif"],
        outputSizes=sizes,
        fit="cover",
        upscale=True,
        quality=90,
        background="#123456",
        stripMetadata=False,
        maintainAspectRatio=True,
    )
    if sub_workflow:
        event["subWorkflowName"] = "image_convert_resize_upload_with_a_long_name"
    return run(event, max_fanout=50)


@pytest.mark.parametrize("sub_workflow", [False, True])
def test_plan_size_at_the_default_fan_out_cap(sub_workflow: bool) -> None:
    typical = plan_at_cap("s3://imgpipe-prod-uploads/uploads/2026/11/23/" + "p" * 60 + ".jpg", sub_workflow)
    assert len(typical["dynamicForkItems"]) == 50
    typical_bytes = len(json.dumps(typical))
    assert typical_bytes < STEP_FUNCTIONS_PAYLOAD_LIMIT / 4  # measured 46 KB (57 KB with sub-workflows)
    worst = plan_at_cap("s3://b/" + "k" * (MAX_LOCATION_LENGTH - 7), sub_workflow)
    worst_bytes = len(json.dumps(worst))
    assert worst_bytes <= MAX_PLAN_BYTES < STEP_FUNCTIONS_PAYLOAD_LIMIT  # longest allowed location


def test_plans_over_the_byte_cap_are_refused_rather_than_sent() -> None:
    event = load_event(
        "image_multiple_convert_resize",
        fileLocation="s3://b/" + "k" * (MAX_LOCATION_LENGTH - 7),
        outputSizes=[{"width": w, "height": w} for w in range(1, 101)],
    )
    with pytest.raises(InvalidRecipeError, match="byte cap"):
        run(event, max_fanout=300)


@pytest.mark.parametrize(
    ("location", "env", "problem"),
    [
        ("ftp://img.example.com/cat.png", {}, "unsupported scheme 'ftp'"),
        ("https://other.example.net/cat.png", {"ALLOWED_URL_HOSTS": "img.example.com"}, "ALLOWED_URL_HOSTS"),
        ("/tmp/cat.png", {}, "LOCAL_FILES_ROOT"),
    ],
)
def test_the_planner_refuses_a_location_exactly_as_the_worker_would(
    worker_env: dict[str, str],
    location: str,
    env: dict[str, str],
    problem: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One check (sources.check_location) for both, so a plan is never fanned out to N refusals."""
    planner = settings_from(PlannerSettings, {**worker_env, **env}, monkeypatch)
    worker = settings_from(ResizeSettings, {**worker_env, **env}, monkeypatch)
    event = load_event("image_multiple_convert_resize", fileLocation=location)
    with pytest.raises(SourceRefusedError) as planned:
        plan_renditions(event, planner)
    with pytest.raises(SourceRefusedError) as worked:
        read_source(location, worker)
    assert planned.value.field == "fileLocation"
    assert problem in str(planned.value)
    assert str(planned.value) == str(worked.value)


def test_the_planner_accepts_an_allowed_https_location(
    worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(
        PlannerSettings, {**worker_env, "ALLOWED_URL_HOSTS": "*.example.com"}, monkeypatch
    )
    event = load_event("image_multiple_convert_resize", fileLocation="https://img.example.com/cat.png")
    items = plan_renditions(event, settings)["dynamicForkItems"]
    assert {item["input"]["fileLocation"] for item in items} == {"https://img.example.com/cat.png"}
