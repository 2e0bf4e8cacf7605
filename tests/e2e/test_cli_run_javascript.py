"""`imgpipe run FILE` on a workflow with JavaScript: the local runtime registers the
javascript_evaluator (as the stack deploys it only for such a workflow) and runs the real handler
in its worker process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imgpipe.cli import main

pytestmark = pytest.mark.slow

SCRIPTED = {
    "name": "scripted",
    "tasks": [
        {
            "name": "calc",
            "taskReferenceName": "calc",
            "type": "LAMBDA",
            "inputParameters": {"n": "${workflow.input.n}", "scriptExpression": "return {double: $.n * 2};"},
        },
        {
            "name": "loop",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "inputParameters": {"limit": "${calc.output.result.double}"},
            "loopCondition": "$.loop.iteration < Math.min($.limit, 3)",
            "loopOver": [
                {
                    "name": "body",
                    "taskReferenceName": "body",
                    "type": "INLINE",
                    "inputParameters": {
                        "i": "${loop.output.iteration}",
                        "evaluatorType": "graaljs",
                        "expression": "'pass ' + $.i",
                    },
                }
            ],
        },
    ],
    "outputParameters": {"calc": "${calc.output.result}", "last": "${body.output.result}"},
}


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: Any) -> tuple[int, dict[str, Any]]:
    workflow = tmp_path / "scripted.json"
    workflow.write_text(json.dumps(SCRIPTED))
    code = main(["run", str(workflow), "--input", json.dumps(payload), "--json", "--time-scale", "0"])
    return code, json.loads(capsys.readouterr().out)


def test_a_workflow_file_with_javascript_runs_in_the_local_runtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run(tmp_path, capsys, {"n": 5})
    assert code == 0, report
    assert report["status"] == "SUCCEEDED"
    assert report["output"] == {"calc": {"double": 10}, "last": "pass 3"}
    one_pass = run(tmp_path, capsys, {"n": 0})[1]
    assert one_pass["output"] == {"calc": {"double": 0}, "last": "pass 1"}
