"""The backfill definition and the command's report reading, without an engine."""

from __future__ import annotations

import argparse
import json
import re

import boto3
import pytest
from moto import mock_aws

from imgpipe.commands.backfill import BackfillSummary, _target, map_run_progress, parse_recipe
from imgpipe.config import RENDER_ALL_TASK, DeploymentConfig, backfill_definition, state_machine_output_key
from imgpipe.local.runner import UsageError
from statemachines.backfill import (
    BACKFILL_WORKER_TASK,
    BATCH_FAILED_ERROR,
    EXPRESS_MAX_SECONDS,
    BackfillSettings,
    suffix_patterns,
)
from statemachines.backfill import backfill_definition as build
from statemachines.translator.model import TaskDef

CONFIG = DeploymentConfig.from_cdk_json()


def _matches(pattern: str, key: str) -> bool:
    """StringMatches semantics: `*` is any run of characters, everything else literal."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), key) is not None


def test_the_worker_is_the_render_all_task() -> None:
    assert BACKFILL_WORKER_TASK == RENDER_ALL_TASK
    assert backfill_definition(CONFIG).lambda_tasks == {RENDER_ALL_TASK}


@pytest.mark.parametrize("key", ["a/b.jpg", "a/B.JPG", "x.JpEg", "deep/path/y.TiFf", "z.webp"])
def test_image_suffixes_match_in_any_case(key: str) -> None:
    patterns = suffix_patterns(tuple(CONFIG.inputSuffixes))
    assert any(_matches(p, key) for p in patterns)


@pytest.mark.parametrize("key", ["notes.txt", "a/b.jpg/", "photo.jpg.bak", "a/jpg"])
def test_other_keys_do_not_match(key: str) -> None:
    patterns = suffix_patterns(tuple(CONFIG.inputSuffixes))
    assert not any(_matches(p, key) for p in patterns)


def test_a_child_always_fits_in_an_express_execution() -> None:
    worst = backfill_definition(CONFIG).child_worst_case_seconds
    assert worst is not None
    assert worst <= EXPRESS_MAX_SECONDS


def test_the_worker_policy_comes_from_its_task_definition() -> None:
    settings = BackfillSettings(
        input_suffixes=(".png",),
        max_concurrency=3,
        items_per_batch=2,
        tolerated_failure_percentage=5.0,
        report_prefix="r/",
    )
    task_def = TaskDef.model_validate({"name": RENDER_ALL_TASK, "timeoutSeconds": 40, "retryCount": 1})
    render = build(settings, worker_task_def=task_def).asl["States"]["Backfill"]["ItemProcessor"]["States"][
        "RenderBatch"
    ]["ItemProcessor"]["States"]["Render"]
    assert render["TimeoutSeconds"] == 40
    assert any(r.get("MaxAttempts") == 1 for r in render["Retry"])
    assert render["Catch"][0]["ErrorEquals"] == ["States.ALL"]


def test_a_failed_batch_reports_each_source_from_its_cause() -> None:
    summary = BackfillSummary()
    results = [
        {"sourceLocation": "s3://b/a.png", "rendered": 2, "skipped": 0, "failed": False},
        {
            "sourceLocation": "s3://b/x.png",
            "error": "CorruptImageError",
            "cause": "truncated",
            "failed": True,
        },
        {"sourceLocation": "s3://b/n.txt", "ignored": True, "failed": False},
    ]
    summary.add_child({"Status": "FAILED", "Error": BATCH_FAILED_ERROR, "Cause": json.dumps(results)}, "b")
    summary.add_child(
        {"Status": "SUCCEEDED", "Output": json.dumps([{**results[0], "rendered": 0, "skipped": 2}])}, "b"
    )
    assert summary.as_json() == {
        "items": 3,
        "succeeded": 2,
        "failed": 1,
        "skipped": 1,
        "renditions": 2,
        "report": None,
    }
    assert summary.ignored == 1
    assert [(f.source, f.error) for f in summary.failures] == [("s3://b/x.png", "CorruptImageError")]


def test_a_child_that_failed_as_a_whole_fails_every_source_of_its_batch() -> None:
    summary = BackfillSummary()
    batch = {"Items": [{"Key": "p/1.png"}, {"Key": "p/2.png"}], "BatchInput": {"bucket": "b"}}
    summary.add_child(
        {"Status": "FAILED", "Error": "States.Timeout", "Cause": "", "Input": json.dumps(batch)}, "b"
    )
    assert [(f.source, f.error) for f in summary.failures] == [
        ("s3://b/p/1.png", "States.Timeout"),
        ("s3://b/p/2.png", "States.Timeout"),
    ]


def test_progress_rate_and_eta_from_describe_map_run() -> None:
    described = {"itemCounts": {"succeeded": 30, "failed": 10, "timedOut": 0, "aborted": 0, "total": 100}}
    progress = map_run_progress(described, now=20.0, started=0.0)
    assert (progress.done, progress.failed, progress.total) == (40, 10, 100)
    assert progress.rate == pytest.approx(2.0)
    assert progress.eta_seconds == pytest.approx(30.0)
    assert map_run_progress({"itemCounts": {}}, now=1.0, started=0.0).eta_seconds is None


def test_recipe_errors_name_the_field() -> None:
    with pytest.raises(UsageError, match=r"outputSizes\.0\.width"):
        parse_recipe(
            json.dumps({"outputFormats": ["png"], "outputSizes": [{"width": 0, "height": 3}]}), CONFIG
        )
    with pytest.raises(UsageError, match="not JSON"):
        parse_recipe("{", CONFIG)
    assert parse_recipe(None, CONFIG) == CONFIG.defaultRecipe.model_dump(mode="json")


@pytest.mark.parametrize(
    ("recipe", "field"),
    [
        ({"fit": "contain", "gravity": "smart"}, "--recipe: gravity: only a 'cover' crop"),
        ({"fitt": "cover"}, "--recipe: fitt: unknown field"),
        ({"gravity": {"x": 2, "y": 0.5}}, "--recipe: gravity.x: 2 is outside 0..1"),
        ({"outputSizes": [{"width": 9000, "height": 10}]}, "--recipe: outputSizes.0.width: 9000 exceeds"),
        ({"outputFormats": ["bmp"]}, "--recipe: outputFormats.0: unknown output format"),
        ({"writeManifest": "sometimes"}, "--recipe: writeManifest"),
    ],
)
def test_a_recipe_the_worker_would_refuse_is_refused_naming_the_field(recipe: dict, field: str) -> None:
    """Checked as image_render_renditions checks it, so no backfill starts only to fail every source."""
    base = {"outputFormats": ["webp"], "outputSizes": [{"width": 8, "height": 8}], "fit": "cover"}
    with pytest.raises(UsageError) as raised:
        parse_recipe(json.dumps(base | recipe), CONFIG)
    assert str(raised.value).startswith(field)


def test_every_recipe_field_reaches_the_worker_with_the_source() -> None:
    recipe = {
        "outputFormats": ["webp"],
        "outputSizes": [{"width": 8, "height": 8}],
        "fit": "cover",
        "gravity": {"x": 0.9, "y": 0.2},
        "writeManifest": False,
        "background": "navy",
    }
    assert parse_recipe(json.dumps(recipe), CONFIG) == recipe  # passed on as given
    batch = backfill_definition(CONFIG).asl["States"]["Backfill"]["ItemProcessor"]["States"]["RenderBatch"]
    render = batch["ItemProcessor"]["States"]["Render"]
    assert render["Parameters"]["Payload.$"] == "States.JsonMerge($.recipe, $.source, false)"
    assert batch["ItemSelector"]["source"] == {
        "fileLocation.$": "States.Format('s3://{}/{}', $.BatchInput.bucket, $$.Map.Item.Value.Key)"
    }


def test_the_upload_workflow_passes_every_recipe_field_to_the_worker_too() -> None:
    """The trigger's workflow lists the recipe fields it forwards; a field of the worker's recipe it
    did not list would reach a backfill's renditions but not an upload's."""
    from lambdas.core.inputs import RenditionsRecipe
    from statemachines.project import load_project

    workflow = load_project().workflows[CONFIG.triggerWorkflow]
    (render,) = [task for task in workflow.tasks if task.name == RENDER_ALL_TASK]
    parameters = render.inputParameters.items()
    forwarded = {key for key, value in parameters if value == f"${{workflow.input.{key}}}"}
    assert set(RenditionsRecipe.model_fields) <= forwarded
    assert set(RenditionsRecipe.model_fields) <= set(workflow.inputParameters)


def test_stack_name_finds_the_backfill_and_buckets_in_the_stack_outputs() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:imgpipe-backfill"
    outputs = {
        state_machine_output_key("backfill"): arn,
        "InputBucketName": "uploads-bucket",
        "OutputBucketName": "renditions-bucket",
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    with mock_aws():
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="imgpipe", TemplateBody=json.dumps(template)
        )
        args = argparse.Namespace(
            stack_name="imgpipe", endpoint_url=None, region="us-east-1", workflow="backfill"
        )
        assert _target(args, None, CONFIG) == (arn, "uploads-bucket", "renditions-bucket")
        args.workflow = "elsewhere"
        with pytest.raises(UsageError, match="StateMachineArnelsewhere"):
            _target(args, None, CONFIG)
