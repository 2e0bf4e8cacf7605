"""The imaging core stays framework-free: importing and running it loads neither pydantic nor
Powertools nor boto3, so a core-only process (the benchmark's, a batch job's) does not pay for them.
Runs in fresh interpreters so that other tests' imports cannot mask a regression."""

from __future__ import annotations

import json

import pytest

from lambdas.core.inputs import RecipeOptions, make_recipe
from lambdas.core.recipe import OUTPUT_FORMATS, normalised_recipe
from tests.support.fresh_interpreter import run_fresh

FRAMEWORKS = "{'pydantic', 'aws_lambda_powertools', 'boto3', 'botocore'}"
IMPORT_PROBE = (
    "import lambdas.core.imaging, sys; "
    f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS}))"
)
RENDER_PROBE = f"""
import io, json, sys
from PIL import Image
from lambdas.core.imaging import render_bytes
from lambdas.core.recipe import normalised_recipe

buffer = io.BytesIO()
Image.new("RGB", (640, 480), (10, 120, 200)).save(buffer, "JPEG", quality=90)
rendered = render_bytes(buffer.getvalue(), normalised_recipe("JPG", 320, 320, fit="contain"))
decoded = Image.open(io.BytesIO(rendered.data))
print(json.dumps({{
    "format": decoded.format, "size": list(decoded.size), "mode": decoded.mode,
    "frameworks": sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS}),
}}))
"""


def _run(code: str) -> str:
    return run_fresh(code, {}).strip().splitlines()[-1]


def test_importing_the_imaging_core_loads_no_framework() -> None:
    assert _run(IMPORT_PROBE) == "[]"


def test_rendering_with_the_core_alone_loads_no_framework() -> None:
    report = json.loads(_run(RENDER_PROBE))
    assert report["format"] == "JPEG"
    assert report["size"] == [320, 240]
    assert report["mode"] == "RGB"
    assert report["frameworks"] == []


@pytest.mark.parametrize("fmt", sorted(OUTPUT_FORMATS))
def test_task_input_and_direct_callers_build_the_same_recipe(fmt: str) -> None:
    """`make_recipe` (validated task input) fills defaults through `normalised_recipe`, so the
    benchmark's core-only recipes are the ones the handler would build, digests included."""
    options = RecipeOptions(quality=None, stripMetadata=True)
    from_input = make_recipe(options, fmt.upper(), 800, 600, max_dimension=8192)
    direct = normalised_recipe(fmt, 800, 600, fit="contain")
    assert from_input == direct
    assert from_input.digest() == direct.digest()
    assert direct.quality == OUTPUT_FORMATS[fmt].default_quality
