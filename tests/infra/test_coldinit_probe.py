"""The cold-init benchmark's bundle probe reports a number only for the bundle it was asked to run."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from benchmarks import coldinit
from infra.bytecode import BytecodeInterpreter
from infra.code import stage_package

THIS_PYTHON = BytecodeInterpreter(Path(sys.executable), (sys.version_info[0], sys.version_info[1]))


@pytest.fixture
def layer_dir(tmp_path: Path) -> Path:
    """A stand-in layer: `python/` is this virtualenv's site-packages (boto3, Pillow, Powertools, with
    this interpreter's pycs), so the probe runs without building a second layer with pip."""
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "python").symlink_to(sysconfig.get_paths()["purelib"], target_is_directory=True)
    return layer


def _run(monkeypatch: pytest.MonkeyPatch, bundle: coldinit.Bundle) -> dict:
    monkeypatch.setattr(coldinit, "bundles", lambda: {"probe": bundle})
    return coldinit.measure_scenario("upload_toS3", "probe", repeats=1)


def test_probe_measures_a_compiled_bundle(tmp_path, layer_dir, monkeypatch):
    code = stage_package(staging_root=tmp_path / "code", interpreter=THIS_PYTHON)
    result = _run(monkeypatch, coldinit.Bundle(code_dir=code, layer_dir=layer_dir, bytecode=True))
    assert "error" not in result, result
    assert result["repeats"] == 1
    assert result["median_ms"] == pytest.approx(
        result["median_import_ms"] + result["median_client_ms"], abs=0.2
    )
    assert result["top_imports"]
    assert list((code / "lambdas").rglob("*.cpython-*.pyc")) != []  # the staged pycs are there


def test_probe_refuses_when_pycs_do_not_match_the_scenario(tmp_path, layer_dir, monkeypatch):
    compiled = stage_package(staging_root=tmp_path / "code", interpreter=THIS_PYTHON)
    result = _run(monkeypatch, coldinit.Bundle(code_dir=compiled, layer_dir=layer_dir, bytecode=False))
    assert "median_ms" not in result
    assert "pycs" in result["error"]
    plain = stage_package(staging_root=tmp_path / "code", interpreter=None)
    result = _run(monkeypatch, coldinit.Bundle(code_dir=plain, layer_dir=layer_dir, bytecode=True))
    assert "median_ms" not in result
    assert "pyc" in result["error"]


def test_probe_refuses_a_handler_from_outside_the_code_dir(tmp_path, layer_dir, monkeypatch):
    empty_code = tmp_path / "empty-code"
    empty_code.mkdir()
    result = _run(monkeypatch, coldinit.Bundle(code_dir=empty_code, layer_dir=layer_dir, bytecode=True))
    assert "median_ms" not in result
    assert "lambdas" in result["error"]
