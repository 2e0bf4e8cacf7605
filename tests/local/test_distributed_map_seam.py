"""The Distributed Map seam: each gap of moto's engine it fills, shown failing without it and working
with it, so this fails loudly when moto moves its internals or grows the feature itself."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from imgpipe.local import distributed_map_seam, moto_fixes
from imgpipe.local.lambda_seam import MotoInternalsChanged

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/states"
BUCKET = "seam-items"
GUARD_SECONDS = 60  # hang guard, not a performance threshold


def _definition(*, batch: int | None = 4, tolerated: float | None = 50.0, fail_suffix: str = ".bad") -> str:
    """A distributed Map over the bucket listing whose child fails when any key ends with fail_suffix."""
    child = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "Keys",
        "States": {
            "Keys": {
                "Type": "Map",
                "ItemsPath": "$.Items",
                "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Check",
                    "States": {
                        "Check": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.key", "StringMatches": f"*{fail_suffix}", "Next": "Bad"}
                            ],
                            "Default": "Good",
                        },
                        "Bad": {"Type": "Fail", "Error": "BadKey", "Cause": "a bad key"},
                        "Good": {"Type": "Pass", "End": True},
                    },
                },
                "ResultPath": None,
                "OutputPath": "$.BatchInput",
                "End": True,
            }
        },
    }
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": BUCKET, "Prefix.$": "$.prefix"},
        },
        "MaxConcurrency": 3,
        "ItemProcessor": child,
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": BUCKET, "Prefix": "report"},
        },
        "End": True,
    }
    if batch is not None:
        state["ItemBatcher"] = {
            "MaxItemsPerBatch": batch,
            "BatchInput": {"prefix.$": "$.prefix", "run.$": "$$.Execution.Name"},
        }
    if tolerated is not None:
        state["ToleratedFailurePercentage"] = tolerated
    return json.dumps({"StartAt": "Each", "States": {"Each": state}})


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), moto_fixes.install():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield s3, boto3.client("stepfunctions", region_name=REGION)


def _put(s3: Any, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")


def _run(sfn: Any, definition: str, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    arn = sfn.create_state_machine(name=f"m{time.monotonic_ns()}", definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"prefix": prefix}))["executionArn"]
    deadline = time.monotonic() + GUARD_SECONDS
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not end"
        time.sleep(0.05)
    (run,) = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    return described, sfn.describe_map_run(mapRunArn=run["mapRunArn"])


def _report(s3: Any, described: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    details = json.loads(described["output"])["ResultWriterDetails"]
    manifest = json.loads(s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
    return {
        status: [
            entry
            for f in files
            for entry in json.loads(s3.get_object(Bucket=BUCKET, Key=f["Key"])["Body"].read())
        ]
        for status, files in manifest["ResultFiles"].items()
    }


def test_the_seam_finds_what_it_patches() -> None:
    distributed_map_seam.verify_targets()


def test_verify_fails_loudly_when_moto_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    moved = (("moto.stepfunctions.parser.asl.parse.asl_parser", "AmazonStateLanguageParser", ("gone",)),)
    monkeypatch.setattr(distributed_map_seam, "TARGETS", moved)
    with pytest.raises(MotoInternalsChanged, match="gone"):
        distributed_map_seam.verify_targets()


def test_without_the_seam_moto_refuses_item_batcher_and_express_children(aws: tuple[Any, Any]) -> None:
    _, sfn = aws
    with pytest.raises(ClientError, match="ItemBatcher"):
        sfn.create_state_machine(name="plain", definition=_definition(), roleArn=ROLE)


def test_without_the_seam_result_files_are_empty_and_failures_tolerated(aws: tuple[Any, Any]) -> None:
    s3, sfn = aws
    _put(s3, ["t/a.ok", "t/b.bad"])
    definition = json.loads(_definition(batch=None, tolerated=None))
    definition["States"]["Each"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "STANDARD"
    described, _ = _run(sfn, json.dumps(definition), "t/")
    assert described["status"] == "SUCCEEDED"  # AWS: no tolerance field means no failure tolerated
    assert _report(s3, described) == {"FAILED": [], "PENDING": [], "SUCCEEDED": []}


def test_batches_items_with_batch_input_and_reads_every_page(aws: tuple[Any, Any]) -> None:
    s3, sfn = aws
    keys = [f"many/{i:05d}.ok" for i in range(1003)]  # more than one ListObjectsV2 page (1,000 keys)
    _put(s3, [*keys, "other/elsewhere.ok"])
    with distributed_map_seam.install():
        described, map_run = _run(sfn, _definition(batch=100), "many/")
    assert described["status"] == "SUCCEEDED"
    report = _report(s3, described)
    assert report["FAILED"] == []
    inputs = [json.loads(entry["Input"]) for entry in report["SUCCEEDED"]]
    assert [len(batch["Items"]) for batch in inputs] == [100] * 10 + [3]
    assert [item["Key"] for batch in inputs for item in batch["Items"]] == keys
    assert set(inputs[0]["Items"][0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    execution_name = described["executionArn"].rsplit(":", 1)[1]
    assert all(batch["BatchInput"] == {"prefix": "many/", "run": execution_name} for batch in inputs)
    assert [json.loads(e["Output"]) for e in report["SUCCEEDED"]] == [b["BatchInput"] for b in inputs]
    assert map_run["itemCounts"]["total"] == 1003
    assert map_run["itemCounts"]["succeeded"] == 1003
    assert map_run["executionCounts"]["total"] == 11


def test_failed_children_are_reported_with_their_error_and_counted_by_item(aws: tuple[Any, Any]) -> None:
    s3, sfn = aws
    _put(s3, [f"mixed/{i:02d}.{'bad' if i == 5 else 'ok'}" for i in range(12)])
    with distributed_map_seam.install():
        described, map_run = _run(sfn, _definition(batch=4, tolerated=50.0), "mixed/")
    assert described["status"] == "SUCCEEDED"  # 4 of 12 items failed: within 50 %
    report = _report(s3, described)
    (failed,) = report["FAILED"]
    assert (failed["Error"], failed["Cause"], failed["Status"]) == ("BadKey", "a bad key", "FAILED")
    assert "mixed/05.bad" in failed["Input"]
    assert len(report["SUCCEEDED"]) == 2
    assert map_run["itemCounts"]["failed"] == 4
    assert map_run["itemCounts"]["succeeded"] == 8
    assert map_run["executionCounts"]["running"] == 0


def test_more_failures_than_tolerated_fail_the_map_run(aws: tuple[Any, Any]) -> None:
    s3, sfn = aws
    _put(s3, [f"worse/{i:02d}.{'bad' if i in (1, 5) else 'ok'}" for i in range(12)])
    with distributed_map_seam.install():
        described, map_run = _run(sfn, _definition(batch=4, tolerated=50.0), "worse/")
    assert described["status"] == "FAILED"  # 8 of 12 items failed: more than 50 %
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    assert map_run["status"] == "FAILED"


def test_unsupported_fields_are_refused_by_name(aws: tuple[Any, Any]) -> None:
    _, sfn = aws
    definition = json.loads(_definition())
    definition["States"]["Each"]["ItemBatcher"] = {"MaxItemsPerBatchPath": "$.size"}
    with distributed_map_seam.install(), pytest.raises(ClientError, match="MaxItemsPerBatchPath"):
        sfn.create_state_machine(name="unsupported", definition=json.dumps(definition), roleArn=ROLE)
