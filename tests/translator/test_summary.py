"""Summarise (statemachines.translator.summary): a workflow's integrations read from its ASL."""

from __future__ import annotations

from statemachines.translator.asl_states import LAMBDA_INVOKE, START_EXECUTION_SYNC
from statemachines.translator.start_workflow import START_EXECUTION
from statemachines.translator.summary import integrations


def task(resource: str, **parameters: str) -> dict[str, object]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}


def test_integrations_are_found_in_branches_and_map_processors() -> None:
    asl = {
        "StartAt": "fork",
        "States": {
            "fork": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "a",
                        "States": {"a": task(LAMBDA_INVOKE, FunctionName="${LambdaArn_resize}")},
                    },
                    {
                        "StartAt": "each",
                        "States": {
                            "each": {
                                "Type": "Map",
                                "ItemProcessor": {
                                    "StartAt": "child",
                                    "States": {
                                        "child": task(
                                            START_EXECUTION_SYNC, StateMachineArn="${StateMachineArn_kid}"
                                        )
                                    },
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "Next": "start",
            },
            "start": task(START_EXECUTION, StateMachineArn="${StateMachineArn_other}"),
            "poll": {"Type": "Task", "Resource": "${ActivityArn_legacy_worker}", "End": True},
            "call": task("arn:aws:states:::http:invoke", ConnectionArn="${ConnectionArn_partner}"),
        },
    }
    found = integrations(asl)
    assert found.lambda_tasks == {"resize"}
    assert found.activity_tasks == {"legacy_worker"}
    assert found.child_workflows == {"kid"}
    assert found.started_workflows == {"other"}
    assert found.http_connections == {"partner"}


def test_a_workflow_without_integrations_has_none() -> None:
    found = integrations({"StartAt": "p", "States": {"p": {"Type": "Pass", "End": True}}})
    assert not (found.lambda_tasks | found.activity_tasks | found.child_workflows | found.started_workflows)
    assert not found.http_connections
