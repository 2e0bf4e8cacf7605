"""The backfill state machine: the Distributed Map of `statemachines/backfill.py`, deployed as is.

Its role, least privilege (the Distributed Map policy of
https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html, and the grants
aws-cdk-lib's own DistributedMap adds in aws-stepfunctions/lib/state-graph.js and
distributed-map/{item-reader,result-writer}.js):
- states:StartExecution on itself (each batch is a child execution of this state machine) and
  states:DescribeExecution/StopExecution on its own executions (the Map Run's children);
- lambda:InvokeFunction on the render-all worker only;
- the ItemReader: s3:ListBucket on the input bucket (listObjectsV2), and with the S3 Inventory reader
  s3:GetObject on the input bucket's objects (the manifest and the inventory files it names);
- the ResultWriter: s3:PutObject/GetObject/ListMultipartUploadParts/AbortMultipartUpload under the
  report prefix of the output bucket only.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe.config import DeploymentConfig, backfill_definition
from infra.nag import XRAY_REASON, nag_resource
from infra.retention import owned_log_group
from infra.storage import Storage
from infra.workflows import log_options
from statemachines.backfill import BACKFILL_WORKFLOW, REPORT_BUCKET_PLACEHOLDER


class Backfill(Construct):
    """`self.state_machine`: renders every image under a prefix (`imgpipe backfill`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        storage: Storage,
        render_worker: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        definition = backfill_definition(config)
        (worker_task,) = definition.lambda_tasks
        name = config.state_machine_name(BACKFILL_WORKFLOW)
        stack = Stack.of(self)
        # Its own ARN from its name: a reference to the state machine would be a circular dependency.
        self.state_machine_arn_pattern = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.executions = [
            stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{name}{separator}*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for separator in (":", "/")  # its own executions, and its Map Runs' children
        ]
        self.report_objects = storage.output_bucket.arn_for_objects(f"{config.backfillReportPrefix}*")
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs imgpipe backfill",
        )
        self._grant(config, storage, render_worker)
        log_group = owned_log_group(self, "Logs", name_prefix=f"/aws/vendedlogs/states/{name}", config=config)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            definition_body=sfn.DefinitionBody.from_string(definition.asl_json),
            definition_substitutions={
                f"LambdaArn_{worker_task}": render_worker.function_arn,
                REPORT_BUCKET_PLACEHOLDER: storage.output_bucket.bucket_name,
            },
            state_machine_type=sfn.StateMachineType.STANDARD,  # a Distributed Map's parent is Standard
            role=self.role,
            tracing_enabled=True,
            logs=log_options(config, log_group),  # the level every state machine of the stack logs at
        )
        self.state_machine.node.add_dependency(self.role)
        self._acknowledge(stack, config, storage)

    def _grant(self, config: DeploymentConfig, storage: Storage, render_worker: lambda_.IFunction) -> None:
        statements = [
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine_arn_pattern]
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"], resources=self.executions
            ),
            # Unqualified ARN only: the definition invokes `$LATEST` through the substituted ARN.
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[render_worker.function_arn]),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[storage.input_bucket.bucket_arn]),
            iam.PolicyStatement(
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[self.report_objects],
            ),
        ]
        if config.backfillItemReader == "inventory":
            statements.append(
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[storage.input_bucket.arn_for_objects("*")]
                )
            )
        for statement in statements:
            self.role.add_to_policy(statement)

    def _acknowledge(self, stack: Stack, config: DeploymentConfig, storage: Storage) -> None:
        """The findings of this construct's role, each for one exact resource (cdk-nag AwsSolutions)."""
        reasons = {
            "*": XRAY_REASON,
            nag_resource(
                stack, self.report_objects
            ): "The ResultWriter names its result files after the Map Run "
            "(<prefix>/<map run id>/...), known only at run time; access is limited to the report prefix.",
        }
        for executions in self.executions:
            reasons[nag_resource(stack, executions)] = (
                "The Map Run's child execution ARNs are only known at run time; DescribeExecution and "
                "StopExecution are limited to this one state machine's executions."
            )
        if config.backfillItemReader == "inventory":
            reasons[nag_resource(stack, storage.input_bucket.arn_for_objects("*"))] = (
                "The S3 Inventory reader reads the manifest and the inventory files it lists, named per run; "
                "GetObject only, on objects of the input bucket."
            )
        if config.stateMachineLogLevel != "ALL":
            Validations.of(self.state_machine).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-SF1",
                    reason=f"cdk.json imgpipe:stateMachineLogLevel is {config.stateMachineLogLevel}, as for "
                    "every state machine of the stack: a failed execution is still logged with its error "
                    "and cause, each failed source is in the ResultWriter report, and X-Ray traces the run.",
                )
            )
        for resource, reason in reasons.items():
            Validations.of(self.role).acknowledge(
                Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
            )
