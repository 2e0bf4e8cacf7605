"""The local runtime deploys and runs a translated HTTP task: its connection placeholder is filled
and the request goes through the SSRF rules (a loopback endpoint is refused, never connected to)."""

from __future__ import annotations

from imgpipe.local.engine import LocalAws
from statemachines.project import translate_definition

GUARD_SECONDS = 60  # a hang guard for the wait, not a performance threshold


def test_an_http_task_runs_in_the_local_runtime_under_the_ssrf_rules() -> None:
    translated = translate_definition(
        {
            "name": "local_http",
            "tasks": [
                {
                    "name": "call",
                    "taskReferenceName": "call_ref",
                    "type": "HTTP",
                    "inputParameters": {"http_request": {"uri": "${workflow.input.uri}", "method": "GET"}},
                }
            ],
        }
    )
    assert translated.http_connections == {"default"}
    with LocalAws(time_scale=0.0, workflows={translated.name: translated}) as aws:
        execution = aws.start_execution("local_http", {"uri": "https://127.0.0.1/status"})
        described = aws.wait(execution, timeout_seconds=GUARD_SECONDS)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Http.Socket"
    assert "loopback" in described["cause"]
