"""`imgpipe run` end to end: the project's ASL and real worker handlers in the local engine.

Every rendition is downloaded and decoded; failures must name the worker's error and show exactly
one attempt of the failing state (non-retryable errors are never retried).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgpipe.cli import main

pytestmark = pytest.mark.slow


def _source(tmp_path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((220, 40, 40), (0, 0, size[0] // 4, size[1] // 4))
    path = tmp_path / "source.png"
    image.save(path, "PNG")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", *argv, "--json", "--time-scale", "0"])
    out = capsys.readouterr().out
    return code, json.loads(out)  # exactly one JSON object on stdout


def _decoded(rendition: dict[str, Any]) -> Image.Image:
    image = Image.open(rendition["path"])
    image.load()
    assert Path(rendition["path"]).stat().st_size == rendition["bytes"]
    assert image.format == rendition["format"]
    assert image.size == (rendition["width"], rendition["height"])
    return image


def test_single_rendition_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _source(tmp_path)
    before = source.read_bytes()
    workflow_input = {
        "fileLocation": str(source),
        "recipeParameters": {
            "outputFormat": "gif",
            "outputSize": {"width": 300, "height": 300},
            "maintainAspectRatio": True,
        },
    }
    code, result = _run(
        capsys, "image_convert_resize", "--input", json.dumps(workflow_input), "--out", str(tmp_path / "out")
    )
    assert code == 0, result
    assert result["status"] == "SUCCEEDED"
    assert len(result["renditions"]) == 1
    image = _decoded(result["renditions"][0])
    assert image.format == "GIF"
    assert image.size == (300, 225)  # 640x480 fitted into 300x300, aspect kept
    assert source.read_bytes() == before  # the source is never modified
    assert result["transitions"] > 0
    assert all(count == 1 for count in result["stateAttempts"].values())
    assert (tmp_path / "out" / "contact-sheet.png").is_file()
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert history["executions"][0]["executionArn"] == result["executionArn"]


def test_dynamic_fork_3_formats_x_3_sizes_from_an_input_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _source(tmp_path, (900, 900))
    input_file = tmp_path / "input.json"
    input_file.write_text(
        json.dumps(
            {
                "fileLocation": "source.png",  # relative to the input file's directory
                "outputFormats": ["png", "jpg", "webp"],
                "outputSizes": [{"width": 300, "height": 300}, {"width": 200, "height": 100}],
                "maintainAspectRatio": True,
            }
        )
    )
    code, result = _run(
        capsys, "image_multiple_convert_resize", "--input", f"@{input_file}", "--out", str(tmp_path / "o")
    )
    assert code == 0, result
    seen = [(r["format"], r["width"], r["height"]) for r in result["renditions"]]
    # in plan order (formats x sizes), whatever order the workers finished in
    assert seen == [(fmt, w, h) for fmt in ("PNG", "JPEG", "WEBP") for (w, h) in ((300, 300), (100, 100))]
    for rendition in result["renditions"]:
        _decoded(rendition)
    with Image.open(result["contactSheet"]) as sheet:
        assert sheet.format == "PNG"


@pytest.mark.parametrize(
    ("workflow", "expected", "children"),
    [
        # the dynamic fork whose items run the image_resize_upload sub-workflow (the trigger default)
        ("image_multiple_convert_resize_upload", [("JPEG", 160, 120), ("WEBP", 160, 120)], 2),
        # the static fork: three fixed renditions (jpg 300, png 200, webp 1200 box; never enlarged)
        (
            "image_convert_resize_multiple_formats",
            [("JPEG", 300, 225), ("PNG", 200, 150), ("WEBP", 640, 480)],
            0,
        ),
    ],
)
def test_sub_workflow_and_fork_workflows(
    workflow: str,
    expected: list[tuple[str, int, int]],
    children: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workflow_input = {
        "fileLocation": str(_source(tmp_path)),
        "outputFormats": ["jpg", "webp"],
        "outputSizes": [{"width": 160, "height": 160}],
        "maintainAspectRatio": True,
    }
    out = tmp_path / "o"
    code, result = _run(capsys, workflow, "--input", json.dumps(workflow_input), "--out", str(out))
    assert code == 0, result
    assert [(r["format"], r["width"], r["height"]) for r in result["renditions"]] == expected
    for rendition in result["renditions"]:
        _decoded(rendition)
    history = json.loads((out / "history.json").read_text())["executions"]
    assert len(history) == 1 + children  # the child executions are exported with their parent
    for child in history[1:]:
        assert child["events"][-1]["type"] == "ExecutionSucceeded"


def test_bad_image_fails_with_the_worker_error_and_one_attempt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20)
    workflow_input = {
        "fileLocation": str(bad),
        "recipeParameters": {"outputFormat": "jpg", "outputSize": {"width": 100, "height": 100}},
    }
    code, result = _run(
        capsys, "image_convert_resize", "--input", json.dumps(workflow_input), "--out", str(tmp_path)
    )
    assert code == 1
    assert result["status"] == "FAILED"
    assert result["error"] == "CorruptImageError"  # a PNG signature over bytes that are no PNG
    assert result["stateAttempts"][result["failedState"]] == 1
    assert result["renditions"] == []


def test_bad_image_in_a_sub_workflow_names_the_worker_error_of_the_child(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20)
    workflow_input = {
        "fileLocation": str(bad),
        "outputFormats": ["jpg"],
        "outputSizes": [{"width": 100, "height": 100}],
    }
    code, result = _run(
        capsys,
        "image_multiple_convert_resize_upload",
        "--input",
        json.dumps(workflow_input),
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 1
    assert result["status"] == "FAILED"
    assert result["error"] == "CorruptImageError"  # not States.TaskFailed
    assert result["cause"].startswith("fileLocation")
    parent_state, child_state = result["failedState"].split(" > ")
    assert result["stateAttempts"][child_state] == 1  # never retried
    assert result["stateAttempts"][parent_state] == 1


def test_bad_recipe_fails_with_invalid_recipe_and_one_attempt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow_input = {
        "fileLocation": str(_source(tmp_path)),
        "recipeParameters": {"outputFormat": "jpg", "outputSize": {"width": -5, "height": 100}},
    }
    code, result = _run(
        capsys, "image_convert_resize", "--input", json.dumps(workflow_input), "--out", str(tmp_path)
    )
    assert code == 1
    assert result["error"] == "InvalidRecipeError"
    # the field the user wrote first, the worker's own name beside it
    assert (result["cause"] or "").startswith(
        "recipeParameters.outputSize.width (the worker's outputWidth): "
    )
    assert result["stateAttempts"][result["failedState"]] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["image_convert_resize", "--input", "{not json"], "not valid JSON"),
        (["image_convert_resize", "--input", "@/nonexistent/input.json"], "does not exist"),
        (["no_such_workflow", "--input", "{}"], "unknown workflow"),
        (["image_convert_resize", "--input", '{"fileLocation": "missing.png"}'], "fileLocation"),
    ],
)
def test_user_mistakes_exit_2_with_one_line_and_no_traceback(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def _thumbnail_workflow(name: str = "my_thumbnail", task: str = "image_convert_resize") -> dict[str, Any]:
    """A Conductor workflow written by a user, not one of the project's: resize to a fixed box, publish."""
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {
                "name": task,
                "taskReferenceName": "thumb_ref",
                "type": "SIMPLE",
                "inputParameters": {
                    "fileLocation": "${workflow.input.fileLocation}",
                    "outputFormat": "webp",
                    "outputWidth": 64,
                    "outputHeight": 64,
                    "maintainAspectRatio": True,
                },
            },
            {
                "name": "upload_toS3",
                "taskReferenceName": "publish_ref",
                "type": "SIMPLE",
                "inputParameters": {"fileLocation": "${thumb_ref.output.fileLocation}"},
            },
        ],
        "outputParameters": {"thumbnail": "${publish_ref.output.fileLocation}"},
    }


def test_any_conductor_workflow_file_is_translated_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow_file = tmp_path / "thumbnail.json"
    workflow_file.write_text(json.dumps(_thumbnail_workflow()))
    workflow_input = {"fileLocation": str(_source(tmp_path))}
    code, result = _run(
        capsys, str(workflow_file), "--input", json.dumps(workflow_input), "--out", str(tmp_path / "o")
    )
    assert code == 0, result
    assert ":stateMachine:" not in result["executionArn"]
    assert ":execution:imgpipe-my_thumbnail:" in result["executionArn"]
    [rendition] = result["renditions"]
    image = _decoded(rendition)
    assert image.format == "WEBP"
    assert image.size == (64, 48)
    assert result["output"]["thumbnail"].startswith("s3://")


def test_a_project_workflow_file_runs_as_the_deployed_workflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project_file = Path(__file__).parents[2] / "statemachines/conductor/workflows/image_convert_resize.json"
    workflow_input = {
        "fileLocation": str(_source(tmp_path)),
        "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 32, "height": 32}},
    }
    code, result = _run(
        capsys, str(project_file), "--input", json.dumps(workflow_input), "--out", str(tmp_path / "o")
    )
    assert code == 0, result
    assert [(r["format"], r["width"], r["height"]) for r in result["renditions"]] == [("PNG", 32, 24)]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (_thumbnail_workflow(task="sharpen_image"), "sharpen_image"),
        ({"tasks": []}, "'name'"),
        (_thumbnail_workflow(name="image_convert_resize"), "project workflow"),
    ],
)
def test_bad_workflow_files_exit_2_naming_the_problem(
    definition: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow_file = tmp_path / "bad.json"
    workflow_file.write_text(json.dumps(definition))
    source = _source(tmp_path)
    assert main(["run", str(workflow_file), "--input", json.dumps({"fileLocation": str(source)})]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("json_output", [True, False])
def test_workflow_start_time_in_the_output_does_not_crash_the_run(
    json_output: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`${workflow.startTime}` is null in Conductor (not a workflow attribute), so it is null here; the
    local engine's own timestamps are text as on AWS (moto_fixes), so nothing in an output is a datetime."""
    definition = _thumbnail_workflow()
    definition["outputParameters"] |= {"started": "${workflow.startTime}", "id": "${workflow.workflowId}"}
    workflow_file = tmp_path / "stamped.json"
    workflow_file.write_text(json.dumps(definition))
    argv = [str(workflow_file), "--input", json.dumps({"fileLocation": str(_source(tmp_path))})]
    argv += ["--out", str(tmp_path / "o")]
    if json_output:
        code, result = _run(capsys, *argv)
        assert code == 0, result
        assert result["output"]["started"] is None
        assert result["output"]["id"] == result["executionArn"].rsplit(":", 1)[1]
    else:
        code = main(["run", *argv, "--time-scale", "0"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert "SUCCEEDED" in captured.out
        assert "Traceback" not in captured.err


def test_the_renditions_workflow_downloads_its_manifest_and_shows_the_placeholder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _source(tmp_path, (800, 400))
    workflow_input = {
        "fileLocation": str(tmp_path / "source.png"),
        "outputFormats": ["webp", "jpg"],
        "outputSizes": [{"width": 400, "height": 400}, {"width": 100, "height": 100}],
        "fit": "cover",
        "gravity": "smart",
    }
    out = tmp_path / "out"
    code, result = _run(capsys, "image_renditions", "--input", json.dumps(workflow_input), "--out", str(out))
    assert code == 0, result
    assert result["manifest"] == str((out / "manifest.json").resolve())
    manifest = json.loads((out / "manifest.json").read_text())
    # the manifest is the one the output names, and lists exactly the renditions downloaded
    assert result["output"]["manifestLocation"].endswith("/manifest.json")
    assert [entry["fileLocation"] for entry in manifest["renditions"]] == [
        rendition["fileLocation"] for rendition in result["output"]["renditions"]
    ]
    assert len(result["renditions"]) == 4  # the manifest is not reported (or decoded) as a rendition
    for rendition in result["renditions"]:
        _decoded(rendition)
    assert (manifest["source"]["width"], manifest["source"]["height"]) == (800, 400)
    assert set(manifest["srcset"]) == {"webp", "jpeg"}
    with Image.open(result["contactSheet"]) as sheet:
        # 4 renditions + the placeholder: 3 columns x 2 rows
        assert sheet.width > 3 * 240
        assert sheet.height > 2 * 240


def test_run_file_deploys_its_sibling_children_and_a_refused_one_is_an_unknown_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`imgpipe run FILE` deploys what `imgpipe translate DIR` writes: the file's sibling children
    (its own tasks/ makes the directory its project), its default target set without the refused
    sibling, which a run-time name then reaches as an unknown workflow."""
    project = tmp_path / "project"
    (project / "tasks").mkdir(parents=True)
    workflows = {
        "kid": {"name": "kid", "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]},
        "broken": {
            "name": "broken",
            "tasks": [{"name": "k", "taskReferenceName": "k", "type": "KAFKA_PUBLISH"}],
        },
        "dad": {
            "name": "dad",
            "tasks": [
                {
                    "name": "sub",
                    "taskReferenceName": "s",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": "${workflow.input.which}"},
                }
            ],
            "outputParameters": {"child": "${s.output}"},
        },
    }
    for name, definition in workflows.items():
        (project / f"{name}.json").write_text(json.dumps(definition))
    code, ran = _run(capsys, str(project / "dad.json"), "--input", json.dumps({"which": "kid"}))
    assert (code, ran["status"]) == (0, "SUCCEEDED"), ran
    assert ran["output"] == {"child": {}}  # the NOOP child's empty output
    code, refused = _run(capsys, str(project / "dad.json"), "--input", json.dumps({"which": "broken"}))
    assert (code, refused["status"], refused["error"]) == (1, "FAILED", "Conductor.UnknownSubWorkflow")
