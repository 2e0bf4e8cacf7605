"""translator.json: every bad value is an error diagnostic naming its location, never a crash or a
silent coercion; good values reach TranslatorOptions unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from imgpipe.config import WORKER_TASKS
from statemachines.project import CONDUCTOR_DIR, OPTIONS_FILE, load_options, load_project
from statemachines.translator import Diagnostics, TranslationError, TranslatorOptions


def _load(tmp_path: Path, document: Any) -> tuple[TranslatorOptions, Diagnostics]:
    path = tmp_path / OPTIONS_FILE
    path.write_text(json.dumps(document))
    diagnostics = Diagnostics()
    return load_options(path, diagnostics), diagnostics


@pytest.mark.parametrize(
    ("document", "location", "message"),
    [
        ({"max_concurrency_cap": "many"}, "translator.json.max_concurrency_cap", "valid integer"),
        ({"max_concurrency_cap": 0}, "translator.json.max_concurrency_cap", "greater than 0"),
        ({"max_concurrency_cap": True}, "translator.json.max_concurrency_cap", "valid integer"),
        ({"max_concurrency_cap": 2.5}, "translator.json.max_concurrency_cap", "valid integer"),
        (
            {"dynamic_fork_targets": ["image_convert_resize"]},
            "translator.json.dynamic_fork_targets",
            "dictionary",
        ),
        (
            {"dynamic_fork_targets": {"wf.fork": "image_convert_resize"}},
            "translator.json.dynamic_fork_targets.wf.fork",
            "valid list (got 'image_convert_resize')",
        ),
        (
            {"dynamic_fork_targets": {"wf.fork": ["a", 3]}},
            "translator.json.dynamic_fork_targets.wf.fork[1]",
            "string",
        ),
        (
            {"dynamic_fork_targets": {"wf.fork": [""]}},
            "translator.json.dynamic_fork_targets.wf.fork[0]",
            "at least 1",
        ),
        (
            {"dynamic_fork_targets": {"wffork": ["a"]}},
            "translator.json.dynamic_fork_targets.wffork",
            "<workflow name>",
        ),
        ({"inline_sub_workflows": "yes"}, "translator.json.inline_sub_workflows", "valid boolean"),
        ({"non_retryable_errors": "Image.Invalid"}, "translator.json.non_retryable_errors", "valid list"),
        (
            {"service_retry_attempts": -1},
            "translator.json.service_retry_attempts",
            "greater than or equal to 0",
        ),
        (
            {"service_retry_max_delay_seconds": 0},
            "translator.json.service_retry_max_delay_seconds",
            "greater than",
        ),
        (
            {"dynamic_join_output": "dict"},
            "translator.json.dynamic_join_output",
            "'dict' is not a JOIN output mode",
        ),
        (
            {"dynamic_join_output_by_join": ["wf.j"]},
            "translator.json.dynamic_join_output_by_join",
            "dictionary",
        ),
        (
            {"dynamic_join_output_by_join": {"wf.j": "lists"}},
            "translator.json.dynamic_join_output_by_join.wf.j",
            "'lists' is not a JOIN output mode (known: map, list)",
        ),
        ({"max_concurency_cap": 5}, "translator.json.max_concurency_cap", "unknown translator option"),
        ([{"max_concurrency_cap": 5}], "translator.json", "must be a JSON object"),
        (None, "translator.json", "must be a JSON object"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_location(
    tmp_path: Path, document: Any, location: str, message: str
) -> None:
    options, diagnostics = _load(tmp_path, document)
    [error] = diagnostics.errors
    assert error.location == location
    assert message in error.message
    assert options == TranslatorOptions()  # nothing half-applied


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    _, diagnostics = _load(tmp_path, {"max_concurrency_cap": "many", "extra": 1, "dynamic_join_output": "x"})
    assert sorted(e.location for e in diagnostics.errors) == [
        "translator.json.dynamic_join_output",
        "translator.json.extra",
        "translator.json.max_concurrency_cap",
    ]


def test_unreadable_json_is_one_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / OPTIONS_FILE
    path.write_text('{"max_concurrency_cap": ')
    diagnostics = Diagnostics()
    assert load_options(path, diagnostics) == TranslatorOptions()
    [error] = diagnostics.errors
    assert "cannot read JSON" in error.message


def test_every_option_reaches_translator_options(tmp_path: Path) -> None:
    document = {
        "dynamic_fork_targets": {"wf.fork": ["image_convert_resize", "child_wf"]},
        "max_concurrency_cap": 7,
        "inline_sub_workflows": True,
        "non_retryable_errors": ["A.Bad"],
        "lambda_service_errors": ["Lambda.ServiceException"],
        "service_retry_attempts": 0,
        "service_retry_max_delay_seconds": 5,
        "dynamic_join_output": "list",
        "dynamic_join_output_by_join": {"wf.join": "map"},
        "http_connections": {"wf.call": "partner_api"},
    }
    options, diagnostics = _load(tmp_path, document)
    assert not diagnostics.items
    assert options == TranslatorOptions(
        dynamic_fork_targets={"wf.fork": ("image_convert_resize", "child_wf")},
        max_concurrency_cap=7,
        inline_sub_workflows=True,
        non_retryable_errors=("A.Bad",),
        lambda_service_errors=("Lambda.ServiceException",),
        service_retry_attempts=0,
        service_retry_max_delay_seconds=5,
        dynamic_join_output="list",
        dynamic_join_output_by_join={"wf.join": "map"},
        http_connections={"wf.call": "partner_api"},
    )


def test_an_option_left_out_keeps_the_translator_default(tmp_path: Path) -> None:
    options, diagnostics = _load(tmp_path, {"max_concurrency_cap": 3})
    assert not diagnostics.items
    assert options == TranslatorOptions(max_concurrency_cap=3)
    assert isinstance(options.non_retryable_errors, tuple)


def test_the_projects_translator_json_loads_to_the_same_options() -> None:
    diagnostics = Diagnostics()
    options = load_options(CONDUCTOR_DIR / OPTIONS_FILE, diagnostics)
    assert not diagnostics.items
    assert options == TranslatorOptions(
        dynamic_fork_targets={
            "image_multiple_convert_resize.image_multiple_convert_resize_fork_ref": ("image_convert_resize",),
            "image_multiple_convert_resize_upload.image_multiple_convert_resize_upload_fork_ref": (
                "image_resize_upload",
            ),
        }
    )
    # the project adds which SIMPLE tasks its Lambda workers serve (the others are activities)
    assert load_project().options == options.replace(lambda_workers=frozenset(WORKER_TASKS))


def test_a_bad_translator_json_stops_load_project(tmp_path: Path) -> None:
    conductor = tmp_path / "conductor"
    shutil.copytree(CONDUCTOR_DIR, conductor)
    (conductor / OPTIONS_FILE).write_text(
        json.dumps({"dynamic_fork_targets": {"wf.fork": "image_convert_resize"}})
    )
    with pytest.raises(TranslationError, match=r"translator\.json\.dynamic_fork_targets\.wf\.fork"):
        load_project(conductor)


@pytest.mark.parametrize("name", sorted(TranslatorOptions.SET_BY_THE_PROJECT))
def test_an_option_the_project_sets_is_refused_in_the_file(tmp_path: Path, name: str) -> None:
    options, diagnostics = _load(tmp_path, {name: "x", "max_concurrency_cap": 3})
    [error] = diagnostics.errors
    assert error.location == f"translator.json.{name}"
    assert "set by" in error.message
    assert options == TranslatorOptions()


def test_the_throttle_policy_is_set_from_the_file_within_asl_bounds(tmp_path: Path) -> None:
    document = {
        "lambda_throttle_errors": ["Lambda.TooManyRequestsException"],
        "start_execution_retry_errors": ["StepFunctions.ThrottlingException"],
        "throttle_retry_interval_seconds": 1,
        "throttle_retry_max_delay_seconds": 30,
        "throttle_retry_budget_seconds": 0,
    }
    options, diagnostics = _load(tmp_path, document)
    assert not diagnostics.items
    assert options.start_execution_retry_errors == ("StepFunctions.ThrottlingException",)
    assert (options.throttle_retry_interval_seconds, options.throttle_retry_max_delay_seconds) == (1, 30)
    _, too_long = _load(tmp_path, {"throttle_retry_max_delay_seconds": 31_622_401})
    [error] = too_long.errors
    assert error.location == "translator.json.throttle_retry_max_delay_seconds"
    assert "less than or equal to 31622400" in error.message


def test_the_model_in_code_is_as_strict_as_the_file() -> None:
    with pytest.raises(ValueError, match="max_concurrency_cap"):
        TranslatorOptions(max_concurrency_cap="3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_concurency_cap\n  Extra inputs are not permitted"):
        TranslatorOptions(max_concurency_cap=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="service_retry_attempts"):
        TranslatorOptions().replace(service_retry_attempts=-1)  # a copy is validated too
    with pytest.raises(ValidationError, match="frozen"):
        TranslatorOptions().max_concurrency_cap = 3
    assert TranslatorOptions().replace(max_concurrency_cap=3) == TranslatorOptions(max_concurrency_cap=3)
