"""SET_CORRELATION_ID executed in moto: the value as the task output, Conductor's terminal failure for
a missing, null, non-string or empty one (recorded when the task is optional)."""

from __future__ import annotations

from typing import Any

import pytest

from statemachines.translator.set_correlation_id import INVALID_CAUSE, INVALID_CORRELATION_ID
from tests.translator.harness import run_translated, task_defs, translate


def definition(optional: bool = False, output: str = "${set_ref.output.correlationId}") -> dict[str, Any]:
    """Conductor's own test workflow (simple_set_correlation_id_workflow_integration_test.json)."""
    return {
        "name": "set_correlation",
        "tasks": [
            {
                "name": "set_correlation_id",
                "taskReferenceName": "set_ref",
                "type": "SET_CORRELATION_ID",
                "optional": optional,
                "inputParameters": {"correlationId": "${workflow.input.correlationId}"},
            }
        ],
        "outputParameters": {"correlationId": output},
    }


def test_the_value_given_is_the_task_output() -> None:
    [execution] = run_translated(definition(), [{"correlationId": "order-42"}], task_defs(), {})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"correlationId": "order-42"}


@pytest.mark.parametrize(
    "payload", [{}, {"correlationId": None}, {"correlationId": ""}, {"correlationId": 7}]
)
def test_a_missing_or_non_string_or_empty_value_fails_the_workflow(payload: dict[str, Any]) -> None:
    [execution] = run_translated(definition(), [payload], task_defs(), {})
    assert (execution.status, execution.error) == ("FAILED", INVALID_CORRELATION_ID)
    assert execution.cause == INVALID_CAUSE  # a terminal error: a Fail state, nothing retried


def test_an_optional_task_records_the_failure_and_the_workflow_goes_on() -> None:
    optional = definition(optional=True, output="${set_ref.output}")
    [execution] = run_translated(optional, [{"correlationId": ""}], task_defs(), {})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"correlationId": {}}  # COMPLETED_WITH_ERRORS, with no output


def test_a_workflow_that_also_reads_the_correlation_id_is_refused() -> None:
    _, diagnostics = translate(definition(output="${workflow.correlationId}"), task_defs())
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.location == "tasks[0].type"
    assert "workflow.correlationId" in error.message
