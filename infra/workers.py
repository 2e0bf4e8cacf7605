"""One Lambda function per Conductor task name, with exactly the S3 access its task needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from imgpipe.config import (
    RENDER_ALL_TASK,
    RESIZE_TASK,
    UPLOAD_TASK,
    WORKER_TASKS,
    DeploymentConfig,
    function_environment,
    function_timeout_seconds,
)
from infra.bundling import LAMBDA_PLATFORM, TargetPlatform
from infra.code import worker_code
from infra.retention import owned_log_group
from infra.storage import Storage


def handler_path(task_name: str) -> str:
    return f"lambdas.{task_name}.handler.handler"


def function_timeout(task_timeout_seconds: int | None) -> Duration:
    return Duration.seconds(function_timeout_seconds(task_timeout_seconds))


@dataclass(frozen=True)
class WorkerSettings:
    """What the task definitions say about each worker (timeouts; reserved concurrency when opted in)."""

    timeouts: Mapping[str, int | None]
    reserved_concurrency: Mapping[str, int]


class Workers(Construct):
    """The worker functions, keyed by Conductor task name in `self.functions`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        storage: Storage,
        layer: lambda_.ILayerVersion,
        settings: WorkerSettings,
        target: TargetPlatform = LAMBDA_PLATFORM,
        on_demand_layers: Mapping[str, lambda_.ILayerVersion] | None = None,
    ) -> None:
        """`on_demand_layers`: the workers deployed only because a workflow uses them, each with its
        own layer on top of the shared one (infra/javascript_evaluator.py)."""
        super().__init__(scope, construct_id)
        code = worker_code()
        extra_layers = dict(on_demand_layers or {})
        self.functions: dict[str, lambda_.Function] = {}
        for task_name in (*WORKER_TASKS, *extra_layers):
            function_name = config.function_name(task_name)
            log_group = owned_log_group(
                self, f"{task_name}Logs", name_prefix=f"/aws/lambda/{function_name}", config=config
            )
            role = iam.Role(
                self,
                f"{task_name}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"Runs the {task_name} worker",
            )
            # Instead of the managed AWSLambdaBasicExecutionRole (logs on every group): its own group only.
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
                )
            )
            self.functions[task_name] = lambda_.Function(
                self,
                task_name,
                function_name=function_name,
                description=f"imgpipe worker for the Conductor task {task_name}",
                runtime=target.runtime,
                architecture=target.architecture,
                handler=handler_path(task_name),
                code=code,
                layers=[layer, *([extra_layers[task_name]] if task_name in extra_layers else [])],
                memory_size=config.memorySize[task_name],
                timeout=function_timeout(settings.timeouts.get(task_name)),
                reserved_concurrent_executions=settings.reserved_concurrency.get(task_name),
                environment=function_environment(
                    task_name, config, output_bucket=storage.output_bucket.bucket_name
                ),
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                role=role,
            )
        self._grant_storage(config, storage)

    def _grant_storage(self, config: DeploymentConfig, storage: Storage) -> None:
        """Least privilege by task: resize reads inputs and writes renditions, upload republishes
        renditions, render-all reads inputs and writes and HEADs renditions, the planner touches no
        bucket at all."""
        renditions = storage.output_bucket.arn_for_objects(f"{config.outputPrefix}*")
        resize = self.functions[RESIZE_TASK]
        for statement in self._read_sources(storage):
            resize.add_to_role_policy(statement)
        resize.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[renditions]))
        upload = self.functions[UPLOAD_TASK]
        upload.add_to_role_policy(self._list_renditions(config, storage))
        upload.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[renditions])
        )
        render_all = self.functions[RENDER_ALL_TASK]
        for statement in self._read_sources(storage):
            render_all.add_to_role_policy(statement)
        # HeadObject is authorised by s3:GetObject; with s3:ListBucket a missing key is a 404, without
        # it a 403 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). ListBucket
        # is granted on the output prefix only; whether S3 applies that condition to the 404/403
        # choice cannot be checked without AWS, and either way the rendition counts as missing
        # (lambdas.adapters.s3 maps both to SourceNotFoundError) and is rendered.
        render_all.add_to_role_policy(self._list_renditions(config, storage))
        render_all.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[renditions])
        )
        # PLANNER_TASK: no grant on purpose; it only plans renditions.

    @staticmethod
    def _read_sources(storage: Storage) -> list[iam.PolicyStatement]:
        """Reading an upload: the trigger names the object version (lambdas.adapters.s3), and a
        GetObject/HeadObject with a VersionId needs s3:GetObjectVersion
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions");
        ListBucket lets a missing source surface as 404 (SourceNotFoundError) instead of 403."""
        return [
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[storage.input_bucket.bucket_arn]),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[storage.input_bucket.arn_for_objects("*")],
            ),
        ]

    @staticmethod
    def _list_renditions(config: DeploymentConfig, storage: Storage) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[storage.output_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{config.outputPrefix}*"]}},
        )
