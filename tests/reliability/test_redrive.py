"""Redrive: a redriven parent keeps its execution ARN, so the children it starts again need new names.

moto 5.2.5 has no RedriveExecution; `imgpipe.local.moto_fixes.emulated_redrive` starts an execution
whose context object says what a redriven one's says on AWS (the original `Execution.Id`, a
`RedriveCount` of 1 or more), so the translated ASL computes exactly the child names it would compute
on AWS, and moto refuses a reused name of a closed execution as AWS does (ExecutionAlreadyExists).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from imgpipe.config import RESIZE_TASK
from imgpipe.local import moto_fixes
from imgpipe.local.engine import STATES_ROLE, LocalAws
from statemachines.translator.task_states import child_execution_name
from tests.reliability.corpus import BY_NAME
from tests.reliability.pipeline import fault_plan, finished, local_pipeline, objects, run

UPLOAD_WORKFLOW = "image_multiple_convert_resize_upload"
CHILD_WORKFLOW = "image_resize_upload"
SOURCE = BY_NAME["exif-6.jpg"]
RECIPE = {
    "outputFormats": ["webp", "png"],
    "outputSizes": [{"width": 40, "height": 40}, {"width": 20, "height": 20}],
    "maintainAspectRatio": True,
}
# Step Functions execution names: 1-80 characters, none of whitespace, brackets, wildcards,
# " # % \ ^ | ~ ` $ & , ; : / or control characters.
FORBIDDEN_IN_NAMES = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def _name_probe(aws: LocalAws) -> str:
    """A one-state machine that evaluates the translator's child-name expression, nothing else."""
    definition = {
        "StartAt": "name",
        "States": {
            "name": {
                "Type": "Pass",
                "Parameters": {"name.$": child_execution_name("'image_resize_upload_ref'")},
                "End": True,
            }
        },
    }
    return aws.sfn.create_state_machine(
        name="child-name-probe", definition=json.dumps(definition), roleArn=STATES_ROLE
    )["stateMachineArn"]


def _probe(aws: LocalAws, machine: str, name: str) -> tuple[str, str]:
    arn = aws.sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
    described = aws.wait(arn, timeout_seconds=60)
    assert described["status"] == "SUCCEEDED", described
    return arn, json.loads(described["output"])["name"]


def test_child_names_are_valid_fixed_per_attempt_and_new_per_redrive() -> None:
    with local_pipeline() as aws:
        machine = _name_probe(aws)
        original_arn, first = _probe(aws, machine, "original")
        with moto_fixes.emulated_redrive("redrive-1", of_execution_arn=original_arn, redrive_count=1):
            _, redriven = _probe(aws, machine, "redrive-1")
        with moto_fixes.emulated_redrive("redrive-1-again", of_execution_arn=original_arn, redrive_count=1):
            _, redriven_again = _probe(aws, machine, "redrive-1-again")
        with moto_fixes.emulated_redrive("redrive-2", of_execution_arn=original_arn, redrive_count=2):
            _, second_redrive = _probe(aws, machine, "redrive-2")
        _, other_parent = _probe(aws, machine, "another-parent")

    for name in (first, redriven, second_redrive, other_parent):
        assert 1 <= len(name) <= 80
        assert not FORBIDDEN_IN_NAMES.search(name), name
    assert redriven == redriven_again  # one attempt, one name: a retried start finds its child
    assert len({first, redriven, second_redrive, other_parent}) == 4


def test_a_redriven_parent_starts_its_failed_children_again_and_succeeds(tmp_path: Path) -> None:
    """Before the fix the child name ignored the redrive count: the redriven parent asked for the
    closed child's name again and failed with StepFunctions.ExecutionAlreadyExistsException."""
    broken = tmp_path / "png-renditions-broken"
    broken.touch()
    plan = fault_plan(
        RESIZE_TASK,
        tmp_path,
        fail_first=10_000,
        when={"outputFormat": "png"},
        while_exists=str(broken),
        error="lambdas.core.errors.TransientSourceError",
        message="injected: the png renditions fail until fixed",
    )
    with local_pipeline(faults={RESIZE_TASK: plan}) as aws:
        aws.s3.put_object(Bucket=aws.deployment.input_bucket, Key="redrive/source.jpg", Body=SOURCE.data)
        workflow_input = {"fileLocation": f"s3://{aws.deployment.input_bucket}/redrive/source.jpg", **RECIPE}
        first = run(aws, UPLOAD_WORKFLOW, workflow_input, name="parent")
        assert first.status == "FAILED"
        children_before = _child_executions(aws)
        assert sorted(children_before.values()).count("FAILED") >= 1

        broken.unlink()  # the cause is fixed; the operator redrives the parent
        with moto_fixes.emulated_redrive("parent-redrive-1", of_execution_arn=first.arn, redrive_count=1):
            arn = aws.start_execution(UPLOAD_WORKFLOW, workflow_input, name="parent-redrive-1")
            redriven = finished(aws, arn)

        assert redriven.status == "SUCCEEDED", f"{redriven.error}: {redriven.cause}"
        locations = redriven.output["fileLocations"]
        assert len(locations) == 4
        renditions = objects(aws, aws.deployment.output_bucket)
        assert {loc["fileLocation"].split("/", 3)[3] for loc in locations.values()} <= set(renditions)
        children_after = _child_executions(aws)
        # the redrive started children under names the first attempt never used
        assert set(children_after) - set(children_before)
        assert all(status != "RUNNING" for status in children_after.values())


def _child_executions(aws: LocalAws) -> dict[str, str]:
    machine = aws.state_machine_arn(CHILD_WORKFLOW)
    listed = aws.sfn.list_executions(stateMachineArn=machine)["executions"]
    return {execution["name"]: execution["status"] for execution in listed}
