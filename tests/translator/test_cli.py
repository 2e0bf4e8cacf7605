"""`imgpipe translate`: ASL on stdout, diagnostics on stderr, exit 1 on errors."""

from __future__ import annotations

import json
from pathlib import Path

from imgpipe.cli import main

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "fixtures" / "seeds"


def test_single_file_prints_its_asl(capsys) -> None:
    assert main(["translate", str(ROOT / "statemachines/conductor/workflows/image_convert_resize.json")]) == 0
    out, err = capsys.readouterr()
    asl = json.loads(out)
    assert asl["StartAt"] == "Start"
    assert "warning:" in err


def test_errors_exit_1_with_locations(capsys) -> None:
    assert main(["translate", str(SEEDS / "003" / "workflows")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "error: image_multiple_convert_resize: outputParameters.fileLocations:" in err


def test_json_diagnostics(capsys) -> None:
    assert main(["translate", "--json", str(SEEDS / "000" / "curl" / "image_convert_resize.json")]) == 1
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    errors = [r for r in records if r["severity"] == "error"]
    assert errors == [
        {
            "severity": "error",
            "workflows": ["image_convert_resize"],
            "task": "image_toS3_ref",
            "location": "tasks[1].name",
            "message": errors[0]["message"],
        }
    ]


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
