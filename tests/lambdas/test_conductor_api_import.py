"""The Conductor API function's cold import: no Pillow, no Step Functions client and no environment
read until a request arrives (a fresh interpreter, so other tests cannot mask it)."""

from __future__ import annotations

from tests.support.fresh_interpreter import run_fresh

PROBE = """
import sys
import lambdas.conductor_api.handler
from lambdas.adapters import stepfunctions
print("PIL" in sys.modules, stepfunctions._client is None)
"""


def test_the_conductor_api_handler_imports_without_pillow_or_a_client() -> None:
    # CONDUCTOR_WORKFLOWS is unset: importing must not read it.
    output = run_fresh(PROBE, {"POWERTOOLS_TRACE_DISABLED": "true"})
    assert output.split() == ["False", "True"]
