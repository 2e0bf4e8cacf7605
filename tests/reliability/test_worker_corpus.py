"""Every corpus file through the resize worker's deployed handler, with its source in (moto) S3.

Each one ends in a correct, decoded rendition or in a typed non-retryable error naming the problem;
peak memory stays bounded; the source object is byte-for-byte unchanged; a refusal publishes nothing.
Recipe refusals name the offending field before any image work (the source does not even exist).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.config import PLANNER_TASK, RESIZE_TASK, DeploymentConfig, function_environment
from imgpipe.local.lambda_seam import LambdaContext, LambdaFunction
from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES, WorkerError
from tests.reliability.checks import (
    MEMORY_BOUND_BYTES,
    assert_rendition,
    expectations,
    peak_memory,
)
from tests.reliability.corpus import BY_NAME, CORPUS, CorpusItem

INPUT_BUCKET = "reliability-input"
OUTPUT_BUCKET = "reliability-output"
PREFIX = "uploads/"

Invoke = Callable[[str, dict[str, Any]], Any]


def _handler(task: str) -> Callable[[dict[str, Any], Any], Any]:
    module = importlib.import_module(f"lambdas.{task}.handler")
    handler: Callable[[dict[str, Any], Any], Any] = module.handler
    return handler


def _reset_worker_clients() -> None:
    """The S3 adapter caches its client per process; a fresh moto mock needs a fresh client."""
    s3_adapter = importlib.import_module("lambdas.adapters.s3")
    s3_adapter.reset_client()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        _reset_worker_clients()
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=INPUT_BUCKET)
        client.create_bucket(Bucket=OUTPUT_BUCKET)
        yield client
        _reset_worker_clients()


@pytest.fixture
def invoke(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Call a task's handler as Lambda would: its deployed environment and a Lambda context."""
    config = DeploymentConfig.model_validate({})

    def call(task: str, event: dict[str, Any]) -> Any:
        environment = function_environment(task, config, output_bucket=OUTPUT_BUCKET)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        function = LambdaFunction(config.function_name(task), _handler(task))
        context = LambdaContext(function.name, function.arn, function.memory_mb, time.monotonic() + 900)
        return _handler(task)(event, context)

    return call


def _output_objects(s3: Any) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("Contents", [])
    return {obj["Key"]: s3.get_object(Bucket=OUTPUT_BUCKET, Key=obj["Key"])["Body"].read() for obj in listed}


@pytest.mark.parametrize("item", CORPUS, ids=lambda item: item.name)
def test_corpus_item_through_resize_handler(item: CorpusItem, s3: Any, invoke: Invoke) -> None:
    key = f"{PREFIX}{item.name}"
    s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=item.data)
    event = {"fileLocation": f"s3://{INPUT_BUCKET}/{key}", **item.recipe}
    rendered, refused = expectations(item)

    outcome: Any = None
    error: WorkerError | None = None
    with peak_memory() as memory:
        try:
            outcome = invoke(RESIZE_TASK, event)
        except WorkerError as raised:
            error = raised
    print(f"{item.name}: peak RSS growth {memory.growth / 2**20:.1f} MiB")

    assert memory.growth < MEMORY_BOUND_BYTES, f"{item.name}: {memory.growth / 2**20:.0f} MiB"
    source_after = s3.get_object(Bucket=INPUT_BUCKET, Key=key)["Body"].read()
    assert source_after == item.data, "the source object was modified"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=INPUT_BUCKET)["Contents"]] == [key]

    if error is not None:
        assert refused is not None, f"{item.name} should render, got {type(error).__name__}: {error}"
        name = type(error).__name__
        assert name in refused.errors, f"{item.name}: {name}: {error}"
        assert name in NON_RETRYABLE_ERROR_NAMES
        assert not error.retryable
        assert refused.message.search(str(error)), f"{item.name}: message does not say why: {error}"
        assert error.field == "fileLocation", f"{item.name}: blamed field {error.field!r}"
        assert _output_objects(s3) == {}, "a refused source must publish nothing"
        return

    assert rendered is not None, f"{item.name} should be refused, but rendered {outcome}"
    outputs = _output_objects(s3)
    assert len(outputs) == 1
    ((published_key, data),) = outputs.items()
    assert outcome["fileLocation"] == f"s3://{OUTPUT_BUCKET}/{published_key}"
    assert outcome["sourceLocation"] == event["fileLocation"]
    assert_rendition(item, rendered, data, outcome)


# --- recipes refused before any image work -------------------------------------------------------
# The source object does not exist: a worker that fetched before validating would raise
# SourceNotFoundError instead of InvalidRecipeError, so each case also proves "before image work".
MISSING_SOURCE = f"s3://{INPUT_BUCKET}/{PREFIX}never-uploaded.jpg"
RESIZE_OK: dict[str, Any] = {
    "fileLocation": MISSING_SOURCE,
    "outputFormat": "webp",
    "outputWidth": 300,
    "outputHeight": 200,
}
PLAN_OK: dict[str, Any] = {
    "fileLocation": MISSING_SOURCE,
    "outputFormats": ["webp", "jpg"],
    "outputSizes": [{"width": 300, "height": 300}],
    "maintainAspectRatio": True,
}


def _without(recipe: dict[str, Any], field: str) -> dict[str, Any]:
    return {key: value for key, value in recipe.items() if key != field}


RESIZE_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown format", RESIZE_OK | {"outputFormat": "bmp"}, "outputFormat"),
    ("format not a string", RESIZE_OK | {"outputFormat": 7}, "outputFormat"),
    ("zero width", RESIZE_OK | {"outputWidth": 0}, "outputWidth"),
    ("negative height", RESIZE_OK | {"outputHeight": -20}, "outputHeight"),
    ("huge width", RESIZE_OK | {"outputWidth": 1_000_000}, "outputWidth"),
    ("fractional width", RESIZE_OK | {"outputWidth": 12.5}, "outputWidth"),
    ("width as text", RESIZE_OK | {"outputWidth": "300"}, "outputWidth"),
    ("width as boolean", RESIZE_OK | {"outputWidth": True}, "outputWidth"),
    ("missing format", _without(RESIZE_OK, "outputFormat"), "outputFormat"),
    ("missing height", _without(RESIZE_OK, "outputHeight"), "outputHeight"),
    ("missing location", _without(RESIZE_OK, "fileLocation"), "fileLocation"),
    ("location not a string", RESIZE_OK | {"fileLocation": 42}, "fileLocation"),
    ("quality out of range", RESIZE_OK | {"quality": 101}, "quality"),
    ("unknown fit", RESIZE_OK | {"fit": "zoom"}, "fit"),
    ("aspect as text", RESIZE_OK | {"maintainAspectRatio": "sometimes"}, "maintainAspectRatio"),
    ("not a colour", RESIZE_OK | {"background": "plaid"}, "background"),
]

PLAN_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown format", PLAN_OK | {"outputFormats": ["webp", "tiff"]}, "outputFormats"),
    ("no formats", PLAN_OK | {"outputFormats": []}, "outputFormats"),
    ("formats not a list", PLAN_OK | {"outputFormats": "webp"}, "outputFormats"),
    ("zero size", PLAN_OK | {"outputSizes": [{"width": 0, "height": 10}]}, "width"),
    ("negative size", PLAN_OK | {"outputSizes": [{"width": 10, "height": -1}]}, "height"),
    ("huge size", PLAN_OK | {"outputSizes": [{"width": 100_000, "height": 100}]}, "width"),
    ("fractional size", PLAN_OK | {"outputSizes": [{"width": 10.5, "height": 10}]}, "width"),
    ("size as text", PLAN_OK | {"outputSizes": [{"width": "10", "height": 10}]}, "width"),
    ("sizes not a list", PLAN_OK | {"outputSizes": "300x300"}, "outputSizes"),
    ("size missing height", PLAN_OK | {"outputSizes": [{"width": 10}]}, "height"),
    ("missing sizes", _without(PLAN_OK, "outputSizes"), "outputSizes"),
    ("missing location", _without(PLAN_OK, "fileLocation"), "fileLocation"),
    (
        "fan-out over the cap",
        PLAN_OK
        | {
            "outputFormats": ["webp", "jpg", "png"],
            "outputSizes": [{"width": 10 + n, "height": 10 + n} for n in range(17)],
        },
        "output",  # 3 x 17 = 51 renditions > MAX_FANOUT 50: names outputFormats/outputSizes
    ),
]


@pytest.mark.parametrize(
    ("case", "event", "field"), RESIZE_REFUSALS, ids=[case for case, _, _ in RESIZE_REFUSALS]
)
def test_resize_refuses_bad_recipes_naming_the_field(
    case: str, event: dict[str, Any], field: str, s3: Any, invoke: Invoke
) -> None:
    with pytest.raises(WorkerError) as raised:
        invoke(RESIZE_TASK, event)
    assert type(raised.value).__name__ == "InvalidRecipeError", f"{case}: {raised.value!r}"
    assert field in str(raised.value), f"{case}: message does not name {field}: {raised.value}"
    assert _output_objects(s3) == {}


@pytest.mark.parametrize(
    ("case", "event", "field"), PLAN_REFUSALS, ids=[case for case, _, _ in PLAN_REFUSALS]
)
def test_planner_refuses_bad_recipes_naming_the_field(
    case: str, event: dict[str, Any], field: str, s3: Any, invoke: Invoke
) -> None:
    with pytest.raises(WorkerError) as raised:
        invoke(PLANNER_TASK, event)
    assert type(raised.value).__name__ == "InvalidRecipeError", f"{case}: {raised.value!r}"
    assert field in str(raised.value), f"{case}: message does not name {field}: {raised.value}"


def test_planner_accepts_fan_out_at_the_cap(s3: Any, invoke: Invoke) -> None:
    """The cap is inclusive: exactly MAX_FANOUT renditions are planned (the refusal above is not a typo)."""
    s3.put_object(Bucket=INPUT_BUCKET, Key=f"{PREFIX}cap.jpg", Body=BY_NAME["exif-1.jpg"].data)
    event = PLAN_OK | {
        "fileLocation": f"s3://{INPUT_BUCKET}/{PREFIX}cap.jpg",
        "outputFormats": ["webp", "jpg"],
        "outputSizes": [{"width": 10 + n, "height": 10 + n} for n in range(25)],
    }
    planned = invoke(PLANNER_TASK, event)
    assert len(planned["dynamicForkItems"]) == 50


# --- sources refused by location or size, before any image work ---------------------------------
@pytest.mark.parametrize("task", [RESIZE_TASK, PLANNER_TASK])
@pytest.mark.parametrize("location", ["/etc/passwd", "../../etc/passwd", "file:///etc/passwd"])
def test_lambda_refuses_local_paths(task: str, location: str, s3: Any, invoke: Invoke) -> None:
    """LOCAL_FILES_ROOT is unset on Lambda: a path is never opened, whatever the task."""
    event = (RESIZE_OK if task == RESIZE_TASK else PLAN_OK) | {"fileLocation": location}
    with pytest.raises(WorkerError) as raised:
        invoke(task, event)
    assert type(raised.value).__name__ == "SourceRefusedError", raised.value
    assert raised.value.field == "fileLocation"


def test_missing_source_is_not_found_and_not_retryable(s3: Any, invoke: Invoke) -> None:
    with pytest.raises(WorkerError) as raised:
        invoke(RESIZE_TASK, RESIZE_OK)
    assert type(raised.value).__name__ == "SourceNotFoundError"
    assert not raised.value.retryable
    assert "never-uploaded.jpg" in str(raised.value)


def test_source_over_the_byte_cap_is_refused(
    s3: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = BY_NAME["exif-1.jpg"].data
    s3.put_object(Bucket=INPUT_BUCKET, Key=f"{PREFIX}big.jpg", Body=data)
    event = RESIZE_OK | {"fileLocation": f"s3://{INPUT_BUCKET}/{PREFIX}big.jpg"}
    real_environment = function_environment

    def small_cap(task: str, config: DeploymentConfig, **options: Any) -> dict[str, str]:
        return real_environment(task, config, **options) | {"MAX_SOURCE_BYTES": str(len(data) - 1)}

    monkeypatch.setattr(f"{__name__}.function_environment", small_cap)
    with pytest.raises(WorkerError) as raised:
        invoke(RESIZE_TASK, event)
    assert type(raised.value).__name__ == "ImageTooLargeError"
    assert str(len(data) - 1) in str(raised.value)
    assert _output_objects(s3) == {}
