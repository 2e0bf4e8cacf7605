"""`imgpipe run` on a rotated TIFF, a rotated HEIC, a colour-keyed PNG and a damaged PNG: the
renditions the workflow publishes match a plain Pillow reading of the source, and a damaged file
fails as corrupt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgpipe.cli import main
from tests.support.pixels import (
    DISPLAYED_CORNER,
    STORED,
    corner,
    damaged,
    heic,
    is_marker,
    keyed_png,
    marked_photo,
    mean_difference,
    oriented_source,
    plain_pillow,
)

pytestmark = pytest.mark.slow


def _run(
    capsys: pytest.CaptureFixture[str], source: Path, out: Path, formats: tuple[str, ...] = ("png", "webp")
) -> tuple[int, dict[str, Any]]:
    workflow_input = {
        "fileLocation": str(source),
        "outputFormats": list(formats),
        "outputSizes": [{"width": 400, "height": 400}],  # larger than the sources: never enlarged
        "maintainAspectRatio": True,
    }
    argv = ["run", "image_multiple_convert_resize", "--input", json.dumps(workflow_input), "--out", str(out)]
    code = main([*argv, "--json", "--time-scale", "0"])
    return code, json.loads(capsys.readouterr().out)


def _renditions(result: dict[str, Any]) -> dict[str, Image.Image]:
    decoded: dict[str, Image.Image] = {}
    for rendition in result["renditions"]:
        image = Image.open(rendition["path"])
        image.load()
        decoded[rendition["format"]] = image
    assert sorted(decoded) == ["PNG", "WEBP"]
    return decoded


def test_a_tiff_with_orientation_6_is_rotated_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = oriented_source("tiff-lzw", 6)
    source = tmp_path / "rotated.tif"
    source.write_bytes(data)
    code, result = _run(capsys, source, tmp_path / "out")
    assert code == 0, result
    reference = plain_pillow(data).convert("RGB")
    for fmt, image in _renditions(result).items():
        assert image.size == STORED[::-1], fmt  # portrait, as displayed
        assert mean_difference(image.convert("RGB"), reference) < (0.5 if fmt == "PNG" else 6.0), fmt
        assert is_marker(corner(image, DISPLAYED_CORNER[6])), fmt
    assert source.read_bytes() == data


def test_a_heic_with_orientation_6_is_rotated_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "iphone.heic"
    source.write_bytes(heic(marked_photo(), orientation=6))
    code, result = _run(capsys, source, tmp_path / "out")
    assert code == 0, result
    for fmt, image in _renditions(result).items():
        assert image.size == STORED[::-1], fmt
        assert is_marker(corner(image, DISPLAYED_CORNER[6])), fmt
        assert not is_marker(corner(image, "tl")), fmt


def test_a_png_colour_key_stays_transparent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, alpha = keyed_png("RGB")
    source = tmp_path / "keyed.png"
    source.write_bytes(data)
    code, result = _run(capsys, source, tmp_path / "out")
    assert code == 0, result
    for fmt, image in _renditions(result).items():
        assert mean_difference(image.convert("RGBA").getchannel("A"), alpha) < 0.5, fmt


def test_a_damaged_png_fails_as_corrupt_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "damaged.png"
    source.write_bytes(damaged("PNG", "zeroed-header"))
    code, result = _run(capsys, source, tmp_path / "out", formats=("png",))  # one fork item
    assert code == 1
    assert result["error"] == "CorruptImageError"
    assert result["cause"].startswith("fileLocation")
    assert result["stateAttempts"][result["failedState"]] == 1  # not retried
