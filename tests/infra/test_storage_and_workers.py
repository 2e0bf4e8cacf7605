"""Buckets, worker functions and their IAM, asserted on the synthesized template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from imgpipe.config import (
    FUNCTION_TIMEOUT_MARGIN_SECONDS,
    PLANNER_TASK,
    RENDER_ALL_TASK,
    RESIZE_TASK,
    SYSTEM_TASK_TIMEOUT_SECONDS,
    UPLOAD_TASK,
    WORKER_TASKS,
    function_environment,
)

pytestmark = pytest.mark.slow


def _statements(synth: Any, role_construct: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(role_construct)
    found = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def test_three_buckets_encrypted_private_ssl_only(synth):
    buckets = synth.of_type("AWS::S3::Bucket")
    assert len(buckets) == 3
    for bucket in buckets.values():
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert bucket["DeletionPolicy"] == "Retain"
        assert bucket["UpdateReplacePolicy"] == "Retain"
    for logical_id in buckets:
        synth.template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": logical_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_input_versioned_and_logged_output_logged_and_silent(synth):
    storage = synth.stack.storage
    input_props = synth.resources[synth.logical_id(storage.input_bucket)]["Properties"]
    output_props = synth.resources[synth.logical_id(storage.output_bucket)]["Properties"]
    logs_id = synth.logical_id(storage.access_logs)
    assert input_props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "VersioningConfiguration" not in output_props
    assert input_props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    assert output_props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    # EventBridge notifications on the input bucket only: renditions can never start a workflow.
    notifications = synth.of_type("Custom::S3BucketNotifications")
    assert len(notifications) == 1
    (notification,) = notifications.values()
    assert notification["Properties"]["BucketName"] == {"Ref": synth.logical_id(storage.input_bucket)}
    assert notification["Properties"]["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}


def test_destroy_mode_deletes_only_when_asked(synth_destroy):
    buckets = synth_destroy.of_type("AWS::S3::Bucket")
    assert {b["DeletionPolicy"] for b in buckets.values()} == {"Delete"}
    assert len(synth_destroy.of_type("Custom::S3AutoDeleteObjects")) == 3


def test_one_function_per_task_with_the_contracted_settings(synth):
    functions = synth.stack.workers.functions
    assert set(functions) == set(WORKER_TASKS)
    timeouts = SYSTEM_TASK_TIMEOUT_SECONDS | {n: t.timeoutSeconds for n, t in synth.project.task_defs.items()}
    output_bucket = {"Ref": synth.logical_id(synth.stack.storage.output_bucket)}
    for task_name, function in functions.items():
        props = synth.resources[synth.logical_id(function)]["Properties"]
        assert props["FunctionName"] == f"{synth.config.prefix}-{task_name}"
        assert props["Handler"] == f"lambdas.{task_name}.handler.handler"
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["MemorySize"] == synth.config.memorySize[task_name]
        assert props["Timeout"] == (timeouts[task_name] or 60) + FUNCTION_TIMEOUT_MARGIN_SECONDS
        # the concurrency plan on cdk.json's lambdaConcurrency (1,000): each task definition's hint (100)
        task_def = synth.project.task_defs.get(task_name)
        limit = task_def.concurrentExecLimit if task_def else None
        assert props.get("ReservedConcurrentExecutions") == (limit or None)
        assert len(props["Layers"]) == 1
        expected_env = function_environment(task_name, synth.config, output_bucket="OUTPUT")
        env = props["Environment"]["Variables"]
        assert set(env) == set(expected_env)
        for key, value in expected_env.items():
            assert env[key] == (output_bucket if key == "OUTPUT_BUCKET" else value), key
        assert env.get("LOCAL_FILES_ROOT", "") == ""  # local paths only in the local runtime
        log_group = synth.resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert log_group["Properties"]["RetentionInDays"] == synth.config.logRetentionDays
        assert log_group["DeletionPolicy"] == "Retain"


def test_worker_roles_are_least_privilege(synth):
    storage = synth.stack.storage
    input_arn = {"Fn::GetAtt": [synth.logical_id(storage.input_bucket), "Arn"]}
    output_arn = {"Fn::GetAtt": [synth.logical_id(storage.output_bucket), "Arn"]}
    renditions = {"Fn::Join": ["", [output_arn, f"/{synth.config.outputPrefix}*"]]}
    grants: dict[str, dict[str, list[Any]]] = {}
    for task_name, function in synth.stack.workers.functions.items():
        per_action: dict[str, list[Any]] = {}
        for statement in _statements(synth, function.role):
            assert statement["Effect"] == "Allow"
            for action in _actions(statement):
                assert not action.endswith("*"), action
                per_action.setdefault(action, []).extend(_resources(statement))
        grants[task_name] = per_action
        assert {a for a in per_action if a.startswith("logs:")} == {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        }
        assert per_action["xray:PutTraceSegments"] == ["*"]
        s3_actions = {a for a in per_action if a.startswith("s3:")}
        for action in s3_actions:
            assert "*" not in per_action[action], f"{task_name} {action} on every resource"
    resize, upload, planner = grants[RESIZE_TASK], grants[UPLOAD_TASK], grants[PLANNER_TASK]
    reads_versions = {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject"}
    assert {a for a in resize if a.startswith("s3:")} == reads_versions
    assert resize["s3:GetObject"] == [{"Fn::Join": ["", [input_arn, "/*"]]}]
    # the trigger names the upload's version: reading it needs GetObjectVersion, on the inputs only
    assert resize["s3:GetObjectVersion"] == [{"Fn::Join": ["", [input_arn, "/*"]]}]
    assert resize["s3:ListBucket"] == [input_arn]
    assert resize["s3:PutObject"] == [renditions]
    assert {a for a in upload if a.startswith("s3:")} == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}
    assert upload["s3:GetObject"] == [renditions]
    assert upload["s3:PutObject"] == [renditions]
    assert upload["s3:ListBucket"] == [output_arn]
    assert not [a for a in planner if a.startswith("s3:")]
    render_all = grants[RENDER_ALL_TASK]
    assert {a for a in render_all if a.startswith("s3:")} == reads_versions
    assert render_all["s3:GetObjectVersion"] == [{"Fn::Join": ["", [input_arn, "/*"]]}]
    assert sorted(map(json.dumps, render_all["s3:GetObject"])) == sorted(
        map(json.dumps, [{"Fn::Join": ["", [input_arn, "/*"]]}, renditions])
    )  # the source, and the HEAD of its renditions
    assert render_all["s3:PutObject"] == [renditions]
    assert sorted(map(json.dumps, render_all["s3:ListBucket"])) == sorted(
        map(json.dumps, [input_arn, output_arn])
    )
    output_listing = [
        statement
        for statement in _statements(synth, synth.stack.workers.functions[RENDER_ALL_TASK].role)
        if "s3:ListBucket" in _actions(statement) and output_arn in _resources(statement)
    ]
    assert [s["Condition"] for s in output_listing] == [
        {"StringLike": {"s3:prefix": [f"{synth.config.outputPrefix}*"]}}
    ]
    no_managed = [
        r for r in synth.of_type("AWS::IAM::Role").values() if "ManagedPolicyArns" in r["Properties"]
    ]
    assert len(no_managed) == 1  # only CDK's own BucketNotificationsHandler


def test_dependencies_layer_matches_the_runtime(synth):
    (layer,) = synth.of_type("AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    python_dir = synth.stack.dependency_layer.directory / "python"
    assert (python_dir / "PIL").is_dir()
    assert (python_dir / "aws_lambda_powertools").is_dir()
    assert (python_dir / "pydantic_core").is_dir()
    # aarch64 CPython 3.13 wheels, not the build machine's.
    native = list((python_dir / "pydantic_core").glob("_pydantic_core*.so"))
    assert native
    assert all("cpython-313-aarch64" in so.name for so in native)


def test_every_handler_exists_in_the_staged_asset(synth):
    """The handler strings resolve inside the code asset CDK uploads (not just in the repository)."""
    from infra.code import stage_package

    root = stage_package()
    for task_name in WORKER_TASKS:
        props = synth.resources[synth.logical_id(synth.stack.workers.functions[task_name])]["Properties"]
        module, function = props["Handler"].rsplit(".", 1)
        source = root / (module.replace(".", "/") + ".py")
        assert source.is_file(), source
        assert f"def {function}(" in source.read_text()
