"""`imgpipe translate`: ASL on stdout, diagnostics on stderr, exit 1 on errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imgpipe.cli import main

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "fixtures" / "seeds"


def test_single_file_prints_its_asl(capsys) -> None:
    assert main(["translate", str(ROOT / "statemachines/conductor/workflows/image_convert_resize.json")]) == 0
    out, err = capsys.readouterr()
    asl = json.loads(out)
    assert asl["StartAt"] == "Start"
    assert "warning:" in err


def test_text_diagnostics_name_the_task(tmp_path: Path, capsys) -> None:
    workflow = {
        "name": "w",
        "tasks": [{"name": "k", "taskReferenceName": "publish", "type": "KAFKA_PUBLISH"}],
    }
    (tmp_path / "w.json").write_text(json.dumps(workflow))
    assert main(["translate", str(tmp_path / "w.json")]) == 1
    assert (
        "error: w: tasks[0].type [publish]: task 'publish' of type KAFKA_PUBLISH" in capsys.readouterr().err
    )


def test_errors_exit_1_with_locations(capsys) -> None:
    assert main(["translate", str(SEEDS / "003" / "workflows")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "error: image_multiple_convert_resize: outputParameters.fileLocations:" in err


def test_json_diagnostics(capsys) -> None:
    assert (
        main(["translate", "--json", str(SEEDS / "003" / "workflows" / "image_multiple_convert_resize.json")])
        == 1
    )
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    errors = [r for r in records if r["severity"] == "error"]
    assert errors == [
        {
            "severity": "error",
            "workflows": ["image_multiple_convert_resize"],
            "task": None,
            "location": "outputParameters.fileLocations",
            "message": errors[0]["message"],
        }
    ]


def test_json_diagnostics_name_the_workflow_task_and_field_of_each_warning(capsys) -> None:
    """A task without a definition (Conductor's default applies) and task-definition fields without
    an equivalent are warnings, each located at its field: the translation goes on."""
    assert main(["translate", "--json", str(SEEDS / "000" / "curl" / "image_convert_resize.json")]) == 0
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    warned = {(r["location"], tuple(r["workflows"])) for r in records if r["severity"] == "warning"}
    assert ("tasks[1].name", ("image_convert_resize",)) in warned  # image_toS3: the default definition
    assert ("taskDefs.image_convert_resize.pollTimeoutSeconds", ("image_convert_resize",)) in warned


def test_invalid_json_and_missing_path_are_reported_not_raised(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["translate", str(broken)]) == 1
    assert "cannot read JSON" in capsys.readouterr().err
    assert main(["translate", str(tmp_path / "absent.json")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_schema_violations_name_the_field(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "w", "tasks": [{"name": "x"}]}))
    assert main(["translate", str(bad)]) == 1
    assert "tasks[0].taskReferenceName" in capsys.readouterr().err


def test_diagram_without_out_prints_mermaid(capsys) -> None:
    path = ROOT / "statemachines/conductor/workflows/image_multiple_convert_resize.json"
    assert main(["translate", "--diagram", str(path)]) == 0
    assert capsys.readouterr().out.startswith("flowchart TD")


def test_loop_diagram_draws_the_back_edge(tmp_path: Path, capsys) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "echo.json").write_text(json.dumps({"name": "echo"}))
    loop = {
        "name": "w",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "$.loop['iteration'] < 2",
                "loopOver": [{"name": "echo", "taskReferenceName": "body"}],
            }
        ],
    }
    (tmp_path / "w.json").write_text(json.dumps(loop))
    assert main(["translate", "--diagram", str(tmp_path / "w.json")]) == 0
    assert "-.->|while loopCondition|" in capsys.readouterr().out


def _simple(name: str, ref: str) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref}


def _starts(child: str, ref: str) -> dict[str, Any]:
    return {
        "name": child,
        "taskReferenceName": ref,
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": child},
    }


def test_a_directory_is_one_project_every_translatable_workflow_written_every_refusal_reported(
    tmp_path: Path, capsys
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    child = {"name": "child", "tasks": [_simple("label_image", "label")]}
    parent = {"name": "parent", "tasks": [_starts("child", "run_child")]}
    kafka = {
        "name": "kafka",
        "tasks": [{"name": "k", "taskReferenceName": "publish", "type": "KAFKA_PUBLISH"}],
    }
    grand = {"name": "grand", "tasks": [_starts("kafka", "run_kafka")]}
    for workflow in (child, parent, kafka, grand):
        (project / f"{workflow['name']}.json").write_text(json.dumps(workflow))
    (project / "broken.json").write_text("{not json")
    out = tmp_path / "out"
    assert main(["translate", str(project), "--out", str(out), "--json"]) == 1
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert sorted(p.name for p in out.iterdir()) == ["child.asl.json", "parent.asl.json"]
    parent_asl = json.loads((out / "parent.asl.json").read_text())
    assert "${StateMachineArn_child}" in json.dumps(parent_asl)  # the child in another file
    errors = {(tuple(r["workflows"]), r["task"], r["location"]) for r in records if r["severity"] == "error"}
    assert (("kafka",), "publish", "tasks[0].type") in errors
    assert (("grand",), None, "tasks") in errors  # its child was refused: it cannot deploy either
    assert any(r["location"].endswith("broken.json") for r in records if r["severity"] == "error")
    [summary] = [r for r in records if r["severity"] == "summary"]
    assert summary["workflows"] == ["child", "parent"]
    assert summary["message"].startswith("translated 2, refused 3: ")
    assert summary["message"].endswith("broken.json, grand, kafka")


def test_a_workflow_whose_start_workflow_target_is_refused_is_refused_too(tmp_path: Path, capsys) -> None:
    project = tmp_path / "project"
    project.mkdir()
    kafka = {
        "name": "kafka",
        "tasks": [{"name": "k", "taskReferenceName": "publish", "type": "KAFKA_PUBLISH"}],
    }
    start = {"name": "s", "taskReferenceName": "kick", "type": "START_WORKFLOW"}
    starter = {
        "name": "starter",
        "tasks": [{**start, "inputParameters": {"startWorkflow": {"name": "kafka"}}}],
    }
    for workflow in (kafka, starter):
        (project / f"{workflow['name']}.json").write_text(json.dumps(workflow))
    out = tmp_path / "out"
    assert main(["translate", str(project), "--out", str(out), "--json"]) == 1
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [refusal] = [r for r in records if r["severity"] == "error" and r["workflows"] == ["starter"]]
    assert "kafka" in refusal["message"]
    assert not out.exists() or not list(out.iterdir())


def test_a_file_uses_its_sibling_tasks_directory_and_otherwise_the_projects_definitions(
    tmp_path: Path, capsys
) -> None:
    from imgpipe.local.workflows import translate_workflow_file

    workflow = {"name": "resize_only", "tasks": [_simple("image_convert_resize", "resize")]}
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "resize_only.json").write_text(json.dumps(workflow))
    assert main(["translate", str(alone / "resize_only.json")]) == 0
    asl = json.loads(capsys.readouterr().out)
    [task] = [s for s in asl["States"].values() if s["Type"] == "Task"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert task["TimeoutSeconds"] == 30  # the project's image_convert_resize definition
    assert translate_workflow_file(alone / "resize_only.json").asl == asl  # exactly what `run FILE` runs

    sibling = tmp_path / "sibling"
    (sibling / "tasks").mkdir(parents=True)
    (sibling / "tasks" / "image_convert_resize.json").write_text(
        json.dumps({"name": "image_convert_resize", "timeoutSeconds": 7, "retryCount": 0})
    )
    (sibling / "resize_only.json").write_text(json.dumps(workflow))
    assert main(["translate", str(sibling / "resize_only.json")]) == 0
    asl = json.loads(capsys.readouterr().out)
    [task] = [s for s in asl["States"].values() if s["Type"] == "Task"]
    assert task["TimeoutSeconds"] == 7  # the sibling definition, not the project's
    assert translate_workflow_file(sibling / "resize_only.json").asl == asl


def test_run_file_refuses_activity_tasks_naming_them(tmp_path: Path) -> None:
    from imgpipe.local.runner import UsageError
    from imgpipe.local.workflows import translate_workflow_file

    path = tmp_path / "labelled.json"
    path.write_text(json.dumps({"name": "labelled", "tasks": [_simple("label_image", "label")]}))
    with pytest.raises(UsageError, match=r"label_image.*activities"):
        translate_workflow_file(path)
