"""The error-name contract the translator reads, and the environment model."""

from __future__ import annotations

import pytest

from imgpipe.config import DeploymentConfig, function_environment
from lambdas.core import errors, limits
from lambdas.core.errors import InvalidRecipeError
from lambdas.core.limits import DecodeLimits
from lambdas.settings import PlannerSettings, RenderAllSettings, ResizeSettings
from tests.support.worker_settings import settings_from


def test_error_names_match_the_contract() -> None:
    assert errors.NON_RETRYABLE_ERROR_NAMES == (
        "InvalidRecipeError",
        "UnsupportedImageError",
        "CorruptImageError",
        "ImageTooLargeError",
        "SourceNotFoundError",
        "SourceRefusedError",
    )
    assert errors.RETRYABLE_ERROR_NAMES == ("TransientSourceError", "StorageThrottledError")
    for name in errors.NON_RETRYABLE_ERROR_NAMES:
        assert getattr(errors, name)("f", "p").retryable is False
    for name in errors.RETRYABLE_ERROR_NAMES:
        assert getattr(errors, name)("f", "p").retryable is True


def test_message_names_field_and_problem() -> None:
    error = errors.ImageTooLargeError("fileLocation", "too many pixels")
    assert str(error) == "fileLocation: too many pixels"
    assert (error.field, error.problem) == ("fileLocation", "too many pixels")


def test_settings_from_the_function_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {
        "OUTPUT_BUCKET": "out",
        "OUTPUT_PREFIX": "r/",
        "ALLOWED_URL_HOSTS": " Images.Example.com, *.cdn.example.net ,",
        "MAX_FANOUT": "7",
        "LOCAL_FILES_ROOT": " /srv/images ",
        "OUTPUT_BUCKET_OWNER": "not a setting",
    }
    settings = settings_from(RenderAllSettings, environment, monkeypatch)
    assert settings.output_bucket == "out"
    assert settings.allowed_url_hosts == ("images.example.com", "*.cdn.example.net")
    assert settings.max_fanout == 7
    assert settings.local_files_root == "/srv/images"
    assert settings.max_source_pixels == limits.MAX_SOURCE_PIXELS  # unset -> default


def test_local_paths_are_off_unless_explicitly_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from(ResizeSettings, {}, monkeypatch).local_files_root == ""
    assert settings_from(ResizeSettings, {"LOCAL_FILES_ROOT": ""}, monkeypatch).local_files_root == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_FANOUT", "many"),
        ("MAX_FRAMES", "0"),
        ("MAX_SOURCE_PIXELS", ""),  # empty is not a number; the deployment never writes it
        ("OUTPUT_PREFIX", "no-slash"),
        # Pillow would refuse such images itself before the configured cap is reached.
        ("MAX_SOURCE_PIXELS", str(limits.PILLOW_HARD_PIXEL_LIMIT + 1)),
    ],
)
def test_bad_environment_is_a_named_non_retryable_error(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidRecipeError) as caught:
        settings_from(RenderAllSettings, {variable: value}, monkeypatch)
    assert caught.value.field == f"environment.{variable}"
    assert caught.value.retryable is False


def test_decode_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {"MAX_SOURCE_BYTES": "1000", "MAX_SOURCE_PIXELS": "2000", "MAX_FRAMES": "3"}
    settings = settings_from(ResizeSettings, environment, monkeypatch)
    assert settings.decode_limits() == DecodeLimits(max_bytes=1000, max_pixels=2000, max_frames=3)
    assert settings_from(ResizeSettings, {}, monkeypatch).decode_limits() == DecodeLimits()


def test_limit_defaults_are_one_set_for_deployment_workers_and_decoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = DeploymentConfig.model_validate({})
    workers = settings_from(RenderAllSettings, {}, monkeypatch)
    decoder = DecodeLimits()
    assert (config.maxSourceBytes, workers.max_source_bytes, decoder.max_bytes) == (
        limits.MAX_SOURCE_BYTES,
    ) * 3
    assert (config.maxSourcePixels, workers.max_source_pixels, decoder.max_pixels) == (
        limits.MAX_SOURCE_PIXELS,
    ) * 3
    assert (config.maxFrames, workers.max_frames, decoder.max_frames) == (limits.MAX_FRAMES,) * 3
    assert (config.maxOutputDimension, workers.max_output_dimension) == (limits.MAX_OUTPUT_DIMENSION,) * 2
    assert (config.maxFanout, workers.max_fanout) == (limits.MAX_FANOUT,) * 2


def test_the_deployed_environment_round_trips_into_the_same_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    config = DeploymentConfig.model_validate(
        {"maxSourceBytes": 1234, "maxSourcePixels": 5678, "maxFrames": 9, "maxFanout": 4}
    )
    environment = function_environment("image_convert_resize", config, output_bucket="out")
    assert settings_from(ResizeSettings, environment, monkeypatch).decode_limits() == DecodeLimits(
        1234, 5678, 9
    )
    planner = function_environment("image_multiple_convert_resize", config, output_bucket="out")
    assert settings_from(PlannerSettings, planner, monkeypatch).max_fanout == 4
