"""State runs read from real histories of the local engine: Map iterations, statuses, failures."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from imgpipe.local.engine import LocalAws
from imgpipe.viewer import runs
from imgpipe.viewer.graph import state_machine_graph
from tests.viewer.conftest import GUARD_SECONDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalAws]:
    with LocalAws(time_scale=1.0) as aws:  # Waits as written: one test holds a Map item running
        yield aws


def _source(engine: LocalAws) -> str:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((160, 120)).convert("RGB").save(buffer, "PNG")
    key = "local-runs/viewer/runs.png"
    engine.s3.put_object(Bucket=engine.deployment.input_bucket, Key=key, Body=buffer.getvalue())
    return f"s3://{engine.deployment.input_bucket}/{key}"


def _run(
    engine: LocalAws, workflow: str, workflow_input: dict[str, Any]
) -> tuple[Any, list[runs.StateRun], Any]:
    arn = engine.start_execution(workflow, workflow_input)
    described = engine.wait(arn)
    definition = json.loads(engine.sfn.describe_state_machine_for_execution(executionArn=arn)["definition"])
    found = runs.state_runs(engine.history(arn), described["status"])
    runs.fail_state_details(found, definition)
    return described, found, state_machine_graph(definition)


def test_a_dynamic_fork_runs_each_item_once_and_counts_its_iterations(engine: LocalAws) -> None:
    workflow_input = {
        "fileLocation": _source(engine),
        "outputFormats": ["png", "webp", "jpg"],
        "outputSizes": [{"width": 40, "height": 40}],
    }
    described, found, graph = _run(engine, "image_multiple_convert_resize", workflow_input)
    assert described["status"] == "SUCCEEDED"
    task = "image_multiple_convert_resize_fork_ref: image_convert_resize"
    items = [run for run in found if run.state == task]
    assert sorted(run.iteration for run in items) == [0, 1, 2]
    assert all(run.status == runs.SUCCEEDED and run.attempts == 1 for run in items)
    assert {run.input["item"]["input"]["outputFormat"] for run in items} == {"png", "webp", "jpg"}
    fork = next(run for run in found if run.state == "image_multiple_convert_resize_fork_ref")
    assert fork.iterations == {"total": 3, "started": 3, "succeeded": 3}
    after = [
        run
        for run in found
        if run.entered_id > fork.entered_id and run.state.startswith("image_multiple_convert_resize_join_ref")
    ]
    assert after
    assert all(run.iteration is None for run in after)
    nodes = runs.node_statuses(found, graph.node_of)
    assert nodes[graph.node_of["image_multiple_convert_resize_fork_ref"]]["iterations"] == {
        "total": 3,
        "done": 3,
        "running": 0,
        "failed": 0,
    }
    assert nodes[graph.node_of[task]] == {
        "status": runs.SUCCEEDED,
        "counts": {runs.SUCCEEDED: 3},
        "iterations": None,
    }
    assert graph.node_of["image_multiple_convert_resize_fork_ref: unknown task"] not in nodes
    planner = next(run for run in found if run.state == "image_multiple_convert_resize_ref")
    assert planner.output["tasks"]["image_multiple_convert_resize_ref"]["output"]["dynamicForkItems"]
    assert planner.as_json()["seconds"] is not None


def test_a_failed_task_is_the_failing_run_with_the_workers_typed_error(engine: LocalAws) -> None:
    workflow_input = {
        "fileLocation": f"s3://{engine.deployment.input_bucket}/local-runs/viewer/missing.png",
        "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 10, "height": 10}},
    }
    described, found, graph = _run(engine, "image_convert_resize", workflow_input)
    assert described["status"] == "FAILED"
    failing = runs.failing_run(found)
    assert failing is not None
    assert failing.state == "image_convert_resize_ref"
    assert failing.error == "SourceNotFoundError"
    assert "missing.png" in (failing.cause or "")
    nodes = runs.node_statuses(found, graph.node_of)
    assert nodes[graph.node_of["image_convert_resize_ref"]]["status"] == runs.FAILED
    assert graph.node_of["upload_toS3_ref"] not in nodes


def test_a_fail_state_takes_its_error_from_the_definition(engine: LocalAws) -> None:
    definition = {
        "StartAt": "refuse",
        "States": {"refuse": {"Type": "Fail", "Error": "Refused", "Cause": "no <b>such</b> task"}},
    }
    arn = engine.sfn.create_state_machine(
        name="viewer-fail-state",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    execution = engine.sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    described = engine.wait(execution)
    assert described["status"] == "FAILED"
    found = runs.state_runs(engine.history(execution), described["status"])
    runs.fail_state_details(found, definition)
    [run] = found
    assert (run.status, run.error, run.cause) == (runs.FAILED, "Refused", "no <b>such</b> task")


def test_a_sub_workflow_item_names_its_child_execution(engine: LocalAws) -> None:
    workflow_input = {
        "fileLocation": _source(engine),
        "outputFormats": ["png", "webp"],
        "outputSizes": [{"width": 40, "height": 40}],
    }
    described, found, _ = _run(engine, "image_multiple_convert_resize_upload", workflow_input)
    assert described["status"] == "SUCCEEDED"
    children = [run.child_execution for run in found if run.child_execution]
    assert len(children) == 2
    for child in children:
        assert ":execution:imgpipe-image_resize_upload:" in child
        assert engine.sfn.describe_execution(executionArn=child)["status"] == "SUCCEEDED"


def test_a_running_map_counts_its_iterations_done_and_running(engine: LocalAws) -> None:
    definition = {
        "StartAt": "items",
        "States": {
            "items": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "slow?",
                    "States": {
                        "slow?": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "hold"}],
                            "Default": "done",
                        },
                        "hold": {"Type": "Wait", "Seconds": 3600, "Next": "done"},
                        "done": {"Type": "Pass", "End": True},
                    },
                },
                "End": True,
            }
        },
    }
    arn = engine.sfn.create_state_machine(
        name="viewer-running-map",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    execution = engine.sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2, 3]}))[
        "executionArn"
    ]
    graph = state_machine_graph(definition)
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        history = engine.history(execution)
        if sum(e["type"] == "MapIterationSucceeded" for e in history) == 2 and any(
            e["type"] == "WaitStateEntered" for e in history
        ):
            break
        assert time.monotonic() < deadline, "the two quick items did not finish"
        time.sleep(0.05)
    found = runs.state_runs(history, "RUNNING")
    nodes = runs.node_statuses(found, graph.node_of)
    assert nodes[graph.node_of["items"]]["iterations"] == {"total": 3, "done": 2, "running": 1, "failed": 0}
    assert nodes[graph.node_of["items"]]["status"] == runs.RUNNING
    assert nodes[graph.node_of["hold"]]["status"] == runs.RUNNING
    assert [run.iteration for run in found if run.state == "hold"] == [1]
    assert nodes[graph.node_of["done"]]["counts"] == {runs.SUCCEEDED: 2}
    engine.sfn.stop_execution(executionArn=execution)
    described = engine.wait(execution)
    # AWS ends a stopped execution ABORTED; moto 5.2.5 ends this one FAILED (its Map raises on the
    # aborted item): either way the held item is no longer shown running
    assert described["status"] in ("ABORTED", "FAILED")
    stopped = runs.state_runs(engine.history(execution), described["status"])
    assert {run.status for run in stopped if run.state == "hold"} == {runs.ABORTED}
