"""Recipe parsing and normalisation: defaults, aliases, contradictions, limits, digests."""

from __future__ import annotations

import pytest

from lambdas.core.errors import InvalidRecipeError
from lambdas.core.inputs import RecipeOptions, make_recipe, parse_resize_input
from lambdas.core.planner import plan

BASE = {"fileLocation": "s3://bucket/a.jpg", "outputFormat": "jpg", "outputWidth": 300, "outputHeight": 200}


def parse(**overrides: object):
    event = {**BASE, **overrides}
    return parse_resize_input({k: v for k, v in event.items() if v != "<absent>"}, max_dimension=4096)


def test_defaults_follow_the_issue() -> None:
    location, recipe = parse()
    assert location == "s3://bucket/a.jpg"
    assert (recipe.format, recipe.width, recipe.height) == ("jpeg", 300, 200)
    assert recipe.fit == "contain"
    assert recipe.upscale is False
    assert recipe.strip_metadata is True
    assert recipe.quality == 85
    assert recipe.background is None


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("JPG", "jpeg"), ("jpeg", "jpeg"), (" PNG ", "png"), ("WebP", "webp"), ("avif", "avif"), ("gif", "gif")],
)
def test_format_aliases_are_canonicalised(spelling: str, canonical: str) -> None:
    assert parse(outputFormat=spelling)[1].format == canonical


def test_null_optional_fields_mean_absent() -> None:
    # Conductor/ASL pass null for workflow inputs the caller left out.
    _, recipe = parse(maintainAspectRatio=None, fit=None, quality=None, background=None, stripMetadata=None)
    assert recipe.fit == "contain"
    assert recipe.strip_metadata is True


def test_maintain_aspect_ratio_false_means_stretch() -> None:
    assert parse(maintainAspectRatio=False)[1].fit == "stretch"


@pytest.mark.parametrize("fit", ["contain", "cover", "fill"])
def test_aspect_keeping_fit_contradicting_maintain_false_is_refused(fit: str) -> None:
    with pytest.raises(InvalidRecipeError) as caught:
        parse(maintainAspectRatio=False, fit=fit)
    assert caught.value.field == "fit"
    assert "maintainAspectRatio" in str(caught.value)


def test_explicit_stretch_with_explicit_maintain_true_is_refused() -> None:
    with pytest.raises(InvalidRecipeError, match="fit"):
        parse(maintainAspectRatio=True, fit="stretch")
    assert parse(fit="stretch")[1].fit == "stretch"  # maintainAspectRatio left at its default


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"outputWidth": 0}, "outputWidth"),
        ({"outputHeight": -5}, "outputHeight"),
        ({"outputWidth": True}, "outputWidth"),
        ({"outputWidth": "300"}, "outputWidth"),
        ({"outputWidth": 300.5}, "outputWidth"),
        ({"outputWidth": 5000}, "outputWidth"),
        ({"outputFormat": "bmp"}, "outputFormat"),
        ({"outputFormat": 7}, "outputFormat"),
        ({"fit": "zoom"}, "fit"),
        ({"quality": 0}, "quality"),
        ({"quality": 101}, "quality"),
        ({"background": "not-a-colour"}, "background"),
        ({"fileLocation": ""}, "fileLocation"),
        ({"fileLocation": "<absent>"}, "fileLocation"),
        ({"outputWidht": 3}, "outputWidht"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRecipeError) as caught:
        parse(**overrides)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert caught.value.retryable is False


def test_non_object_event_is_refused() -> None:
    with pytest.raises(InvalidRecipeError, match="expected a JSON object"):
        parse_resize_input(["not", "an", "object"], max_dimension=10)


def test_background_is_normalised_to_hex() -> None:
    assert parse(background="red")[1].background == "#ff0000"
    assert parse(background="#ABC")[1].background == "#aabbcc"


def test_quality_is_dropped_for_lossless_formats() -> None:
    assert parse(outputFormat="png", quality=50)[1].quality is None
    assert parse(outputFormat="webp")[1].quality == 80
    assert parse(outputFormat="webp", quality=55)[1].quality == 55


def test_equivalent_inputs_have_equal_digests_and_different_ones_differ() -> None:
    same = {
        parse(outputFormat="jpg")[1].digest(),
        parse(outputFormat="JPEG", maintainAspectRatio=True)[1].digest(),
        parse(fit="contain", quality=85, stripMetadata=True, maintainAspectRatio=None)[1].digest(),
    }
    assert len(same) == 1
    different = {
        parse()[1].digest(),
        parse(outputWidth=301)[1].digest(),
        parse(fit="cover")[1].digest(),
        parse(quality=84)[1].digest(),
        parse(upscale=True)[1].digest(),
        parse(outputFormat="webp")[1].digest(),
    }
    assert len(different) == 6


def test_events_are_parsed_by_powertools_parser_with_typed_field_errors() -> None:
    from aws_lambda_powertools.utilities.parser.functions import CACHE_TYPE_ADAPTER

    from lambdas.core.inputs import PlanInput, UploadInput, parse_event

    parsed = parse_event({"fileLocation": "s3://bucket-a/k.png", "extra": 1}, UploadInput)
    assert parsed.fileLocation == "s3://bucket-a/k.png"
    assert id(UploadInput) in CACHE_TYPE_ADAPTER  # validated through Powertools' parse()
    bad_plan = {"fileLocation": "s3://b/k", "outputFormats": [], "outputSizes": [{"width": 0}]}
    with pytest.raises(InvalidRecipeError) as raised:
        parse_event(bad_plan, PlanInput)
    assert raised.value.field == "outputFormats"
    assert "outputSizes.0.width" in str(raised.value)
    assert "outputSizes.0.height" in str(raised.value)
    with pytest.raises(InvalidRecipeError) as raised:
        parse_event('{"fileLocation": "s3://b/k"}', UploadInput)  # a JSON string is not an event
    assert raised.value.field == "input"


def test_make_recipe_names_the_callers_fields() -> None:
    options = RecipeOptions()
    with pytest.raises(InvalidRecipeError) as raised:
        make_recipe(options, "png", 10, 9000, max_dimension=4096)
    assert raised.value.field == "outputHeight"
    fields = ("outputFormats.1", "outputSizes.2.width", "outputSizes.2.height")
    with pytest.raises(InvalidRecipeError, match="exceeds the maximum of 4096") as raised:
        make_recipe(options, "png", 9000, 10, max_dimension=4096, fields=fields)
    assert raised.value.field == "outputSizes.2.width"
    with pytest.raises(InvalidRecipeError, match="unknown output format") as raised:
        make_recipe(options, "bmp", 10, 10, max_dimension=4096, fields=fields)
    assert raised.value.field == "outputFormats.1"


def test_the_planner_reports_the_first_offending_size_by_its_index() -> None:
    event = {
        "fileLocation": "s3://bucket/a.jpg",
        "outputFormats": ["png", "jpg"],
        "outputSizes": [
            {"width": 10, "height": 10},
            {"width": 10, "height": 10},
            {"width": 10, "height": 200},
        ],
    }
    with pytest.raises(InvalidRecipeError, match="200 exceeds the maximum of 100") as raised:
        plan(event, max_dimension=100, max_fanout=50)
    assert raised.value.field == "outputSizes.2.height"
    result = plan(event, max_dimension=200, max_fanout=50)
    # Duplicate sizes collapse; each fork item is its task plus the task's input, in the same order.
    assert len(result["dynamicTasks"]) == 4
    for task, item in zip(result["dynamicTasks"], result["dynamicForkItems"], strict=True):
        assert {key: item[key] for key in ("taskReferenceName", "name", "type")} == task
        assert item["input"] == result["dynamicTasksInput"][task["taskReferenceName"]]
