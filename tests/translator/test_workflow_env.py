"""`${workflow.env.NAME}` from translator.json's workflow_env, written into the definition and read
by a worker in moto; secrets and unknown names refused at their expression."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from statemachines.project import load_options
from statemachines.translator import Diagnostics, TranslatorOptions
from tests.translator.harness import engine, task_defs, translate


def echo(event: Any, _context: Any) -> Any:
    return event


def definition(**inputs: Any) -> dict[str, Any]:
    return {
        "name": "env_wf",
        "tasks": [{"name": "echo", "taskReferenceName": "e", "inputParameters": inputs}],
    }


ENV = TranslatorOptions(workflow_env={"API_HOST": "api.example.com", "RETRIES": 3, "STRICT": False})


def test_environment_values_reach_the_task_input_with_their_types() -> None:
    asl, diagnostics = translate(
        definition(
            url="https://${workflow.env.API_HOST}/v1/${workflow.input.id}",
            retries="${workflow.env.RETRIES}",
            strict="${workflow.env.STRICT}",
        ),
        task_defs("echo"),
        options=ENV,
    )
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    with engine() as moto:
        moto.function("echo", echo)
        moto.deploy("env_wf", json.dumps(asl))
        execution = moto.run("env_wf", {"id": "42"})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"url": "https://api.example.com/v1/42", "retries": 3, "strict": False}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("${workflow.secrets.API_KEY}", "a secret never goes into a state machine definition"),
        ("${workflow.env.MISSING}", "'MISSING' is not in translator.json workflow_env"),
        ("${workflow.env}", "one variable name"),
    ],
)
def test_secrets_and_unknown_names_are_refused_at_their_expression(expression: str, message: str) -> None:
    _, diagnostics = translate(definition(value=expression), task_defs("echo"), options=ENV)
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[0].inputParameters.value"
    assert message in error.message


def test_translator_json_gives_the_values_and_refuses_a_bad_name(tmp_path: Path) -> None:
    path = tmp_path / "translator.json"
    path.write_text(json.dumps({"workflow_env": {"API_HOST": "a.example.com"}}))
    assert load_options(path, Diagnostics()).workflow_env == {"API_HOST": "a.example.com"}
    path.write_text(json.dumps({"workflow_env": {"api-host": "a"}}))
    diagnostics = Diagnostics()
    load_options(path, diagnostics)
    [error] = diagnostics.errors
    assert "not a variable name" in error.message
