"""Synth refuses caps the memory model says the decoding functions cannot reach (issue 11 §2)."""

from __future__ import annotations

import re

import pydantic
import pytest

from imgpipe.config import DeploymentConfig
from tests.infra.conftest import synthesize

SMALL_RESIZE = {"image_convert_resize": 512, "upload_toS3": 256, "image_multiple_convert_resize": 256}


def test_synth_refuses_a_pixel_cap_the_resize_memory_cannot_reach(tmp_path) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        synthesize(tmp_path, {"imgpipe:memorySize": SMALL_RESIZE})
    message = str(caught.value)
    assert (
        "imgpipe:maxSourcePixels cannot be reached with imgpipe:memorySize.image_convert_resize = 512 MB"
        in (message)
    )
    assert "imgpipe:maxSourceBytes" in message
    assert "raise imgpipe:memorySize.image_convert_resize to at least" in message


def test_the_refusal_names_a_pixel_cap_and_a_memory_size_that_would_work() -> None:
    # without HEIC uploads, which ask more of 512 MB (test_synth_refuses_a_memory_that_cannot_render_...)
    no_heif = {"imgpipe:inputSuffixes": [".jpg", ".png", ".webp"]}
    with pytest.raises(pydantic.ValidationError) as caught:
        DeploymentConfig.from_context({"imgpipe:memorySize": SMALL_RESIZE} | no_heif)
    found = re.search(r"this memory reaches ([\d,]+) pixels", str(caught.value))
    assert found is not None
    reachable = int(found.group(1).replace(",", ""))
    assert DeploymentConfig.from_context(
        {"imgpipe:memorySize": SMALL_RESIZE, "imgpipe:maxSourcePixels": reachable} | no_heif
    )
    needed = int(str(caught.value).split("to at least ")[1].split(" MB")[0].replace(",", ""))
    enough = SMALL_RESIZE | {"image_convert_resize": needed}
    assert DeploymentConfig.from_context({"imgpipe:memorySize": enough} | no_heif)


def test_synth_refuses_a_frame_budget_no_animation_could_reach() -> None:
    # Padding (`fit: fill`) makes every output frame the whole 1200x1200 box, however small the
    # canvas, and an animated WebP keeps every rendered frame until it is encoded: 200 frames do
    # not fit 1,024 MB, 50 do. (With contain, frames share maxSourcePixels and never need more
    # than the JPEG at the pixel cap.)
    fill = {"outputFormats": ["webp"], "outputSizes": [{"width": 1200, "height": 1200}], "fit": "fill"}
    with pytest.raises(pydantic.ValidationError) as caught:
        DeploymentConfig.from_context({"imgpipe:defaultRecipe": fill, "imgpipe:maxFrames": 200})
    message = str(caught.value)
    assert "imgpipe:maxFrames cannot be reached" in message
    assert "an animated WEBP of 200 frames" in message
    assert "imgpipe:maxSourcePixels cannot be reached" not in message
    assert DeploymentConfig.from_context({"imgpipe:defaultRecipe": fill, "imgpipe:maxFrames": 50})


def test_the_decode_once_worker_is_checked_with_every_default_rendition_at_once() -> None:
    memory = {"image_convert_resize": 1024, "image_render_renditions": 400}
    with pytest.raises(
        pydantic.ValidationError, match=r"imgpipe:memorySize\.image_render_renditions = 400 MB"
    ):
        DeploymentConfig.from_context({"imgpipe:memorySize": memory})


def test_memory_sizes_outside_lambdas_range_are_refused() -> None:
    # Lambda: 128 to 10,240 MB (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)
    with pytest.raises(
        pydantic.ValidationError, match=r"imgpipe:memorySize.upload_toS3 is 64 MB; Lambda allows"
    ):
        DeploymentConfig.from_context(
            {"imgpipe:memorySize": {"image_convert_resize": 1024, "upload_toS3": 64}}
        )


def test_the_deployed_configuration_passes() -> None:
    config = DeploymentConfig.from_cdk_json()
    assert config.memorySize["image_convert_resize"] == 1024
    assert config.maxSourcePixels == 89_478_485


def test_synth_refuses_a_memory_that_cannot_render_the_heic_it_accepts() -> None:
    # 45 MP: the JPEG reference reaches it at 512 MB, an iPhone's 48 MP HEIF Max (capped to 45 MP) not
    small = {"image_convert_resize": 512, "image_render_renditions": 512}
    context = {"imgpipe:memorySize": small, "imgpipe:maxSourcePixels": 45_000_000}
    with pytest.raises(pydantic.ValidationError) as caught:
        DeploymentConfig.from_context(context)
    message = str(caught.value)
    assert (
        "imgpipe:inputSuffixes accepts .heic/.heif uploads but imgpipe:memorySize.image_convert_resize"
        in message
    )
    assert "an iPhone's largest HEIC" in message
    assert "imgpipe:maxSourcePixels cannot be reached" not in message  # the JPEG check passes
    needed = int(message.split("to at least ")[1].split(" MB", maxsplit=1)[0].replace(",", ""))
    assert DeploymentConfig.from_context(context | {"imgpipe:memorySize": dict.fromkeys(small, needed)})
    # a deployment that does not take HEIC uploads is not held to it
    without_heif = [".jpg", ".jpeg", ".png", ".webp"]
    assert DeploymentConfig.from_context(context | {"imgpipe:inputSuffixes": without_heif})
