"""Docker-free dependency bundling, the staged code asset and the context overrides (no synth)."""

from __future__ import annotations

import subprocess

import pytest
from aws_cdk import App

from infra import bundling
from infra.code import package_files, stage_package
from infra.context import RESERVED_CONCURRENCY_KEY, deployment_config, reserved_concurrency_enabled
from infra.retention import InvalidLogRetentionError, log_retention


def test_cache_key_changes_with_requirements_lock_and_platform():
    base = bundling.cache_key("pillow\n", bundling.LAMBDA_PLATFORM, lock="pillow==13.0.0\n")
    assert base == bundling.cache_key("pillow\n", bundling.LAMBDA_PLATFORM, lock="pillow==13.0.0\n")
    assert base != bundling.cache_key("pillow\n", bundling.LAMBDA_PLATFORM, lock="pillow==12.0.0\n")
    assert base != bundling.cache_key("pillow==12\n", bundling.LAMBDA_PLATFORM, lock="pillow==13.0.0\n")
    assert base != bundling.cache_key("pillow\n", bundling.TargetPlatform(python_version="3.12"))
    assert base != bundling.cache_key("pillow\n", bundling.TargetPlatform(platform="manylinux2014_x86_64"))


def test_cache_hit_never_runs_pip(tmp_path, monkeypatch):
    requirements = "pillow\n"
    entry = tmp_path / bundling.cache_key(requirements, bundling.LAMBDA_PLATFORM)
    (entry / "python").mkdir(parents=True)
    (entry / bundling.COMPLETE_MARKER).write_text(requirements)

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran although the cache entry is complete")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert bundling.ensure_dependencies(requirements, lock="", cache_root=tmp_path) == entry


def test_pip_failure_is_a_clear_error_and_leaves_no_cache_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: pip fails for real, quickly
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nothing-here"))
    with pytest.raises(bundling.DependencyBundlingError, match="PyPI reachable"):
        bundling.ensure_dependencies("imgpipe-no-such-package==0\n", lock="", cache_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_staged_asset_is_the_lambdas_package_only(tmp_path):
    root = stage_package(staging_root=tmp_path)
    assert [p.name for p in root.iterdir()] == ["lambdas"]
    staged = sorted(p.relative_to(root / "lambdas") for p in (root / "lambdas").rglob("*") if p.is_file())
    assert staged == sorted(package_files())
    assert all("__pycache__" not in p.parts and p.suffix != ".pyc" for p in staged)
    assert (root / "lambdas" / "__init__.py").is_file()
    assert stage_package(staging_root=tmp_path) == root  # same sources, same directory


def test_context_overrides_like_cdk_dash_c():
    app = App(
        context={"imgpipe:prefix": "demo", "imgpipe:maxFanout": "20", "imgpipe:inputSuffixes": '[".png"]'}
    )
    config = deployment_config(app.node)
    assert config.prefix == "demo"
    assert config.maxFanout == 20
    assert config.inputSuffixes == [".png"]
    assert reserved_concurrency_enabled(app.node) is True  # the concurrency plan applies by default
    assert reserved_concurrency_enabled(App(context={RESERVED_CONCURRENCY_KEY: "false"}).node) is False
    with pytest.raises(ValueError, match="reservedConcurrency"):
        reserved_concurrency_enabled(App(context={RESERVED_CONCURRENCY_KEY: "yes"}).node)


def test_bad_context_is_a_typed_error_naming_the_field():
    with pytest.raises(ValueError, match="prefix"):
        deployment_config(App(context={"imgpipe:prefix": "Not Valid!"}).node)
    with pytest.raises(InvalidLogRetentionError, match="logRetentionDays"):
        log_retention(31)


def test_express_only_where_the_workflow_allows_it():
    from aws_cdk import aws_stepfunctions as sfn

    from imgpipe.config import DeploymentConfig
    from infra.workflows import creation_order, state_machine_type
    from statemachines.project import translate_project

    translated = translate_project()
    express = DeploymentConfig.from_context({"imgpipe:workflowType": "EXPRESS"})
    standard = DeploymentConfig.from_context({"imgpipe:workflowTypes": {}})
    assert any(tw.child_workflows for tw in translated.values())
    for tw in translated.values():
        assert state_machine_type(standard, tw) == sfn.StateMachineType.STANDARD
        wanted = sfn.StateMachineType.EXPRESS if tw.express_compatible else sfn.StateMachineType.STANDARD
        assert state_machine_type(express, tw) == wanted
        if tw.child_workflows:  # `.sync` children are never Express
            assert state_machine_type(express, tw) == sfn.StateMachineType.STANDARD
    order = creation_order(translated)
    for name, tw in translated.items():
        assert all(order.index(child) < order.index(name) for child in tw.child_workflows)


def test_reserved_concurrency_can_be_opted_out_and_comes_from_the_task_definitions():
    from infra.stack import worker_settings
    from statemachines.project import load_project, translate_project

    project, translated = load_project(), translate_project()
    assert worker_settings(project, translated, reserve_concurrency=False).reserved_concurrency == {}
    reserved = worker_settings(project, translated, reserve_concurrency=True).reserved_concurrency
    hints = {t: n for tw in translated.values() for t, n in tw.concurrency_hints.items()}
    assert reserved
    assert set(reserved) == set(hints)
    for task_name, limit in reserved.items():
        assert limit == min(
            tw.concurrency_hints[task_name] for tw in translated.values() if task_name in tw.concurrency_hints
        )


def test_express_worst_case_over_five_minutes_is_reported():
    from types import SimpleNamespace

    from infra.workflows import express_duration_warning

    assert express_duration_warning(SimpleNamespace(name="w", worst_case_seconds=200.0)) is None
    over = express_duration_warning(SimpleNamespace(name="w", worst_case_seconds=400.0))
    assert over is not None
    assert "400 s" in over
    unbounded = express_duration_warning(SimpleNamespace(name="w", worst_case_seconds=None))
    assert unbounded is not None
    assert "no static bound" in unbounded


def test_cdk_json_cannot_raise_the_pixel_cap_past_what_pillow_decodes():
    import pydantic

    from imgpipe.config import DeploymentConfig
    from lambdas.core.limits import PILLOW_HARD_PIXEL_LIMIT

    # A pixel cap twice the default needs more memory than the default (the memory model's check).
    memory = {
        "imgpipe:memorySize": {
            "image_convert_resize": 2048,
            "image_render_renditions": 2048,
            "upload_toS3": 256,
        }
    }
    assert DeploymentConfig.from_context({"imgpipe:maxSourcePixels": PILLOW_HARD_PIXEL_LIMIT} | memory)
    with pytest.raises(pydantic.ValidationError, match="maxSourcePixels"):
        DeploymentConfig.from_context({"imgpipe:maxSourcePixels": PILLOW_HARD_PIXEL_LIMIT + 1})


def test_console_scripts_leave_no_trace_of_the_build_machine(tmp_path):
    dist_info = tmp_path / "jmespath-1.1.0.dist-info"
    dist_info.mkdir()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "jp.py").write_text("#!/home/someone/.venv/bin/python\n")
    (dist_info / "RECORD").write_text(
        "../../bin/jp.py,sha256=machine-specific,1706\njmespath/__init__.py,sha256=abc,10\n"
    )
    bundling.remove_console_scripts(tmp_path)
    assert not (tmp_path / "bin").exists()
    assert (dist_info / "RECORD").read_text() == "jmespath/__init__.py,sha256=abc,10\n"
