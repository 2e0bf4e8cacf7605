"""cdk-nag AwsSolutions findings this design accepts, each acknowledged with its reason.

Every acknowledgement names one exact finding (rule id plus the resource it concerns) on the
narrowest construct, so a new wildcard or a new resource is reported instead of silently passing.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from imgpipe.config import RENDER_ALL_TASK, RESIZE_TASK, UPLOAD_TASK, DeploymentConfig
from infra.conductor_api import ConductorApi
from infra.storage import Storage
from infra.trigger import UploadTrigger
from infra.workers import Workers
from infra.workflows import Workflows

XRAY_REASON = (
    "X-Ray PutTraceSegments/PutTelemetryRecords (and, for state machines, the CloudWatch Logs "
    "delivery APIs) do not support resource-level permissions; AWS documents Resource '*' for them."
)
RUNTIME_REASON = (
    "Pinned to Python 3.13: the dependency layer's wheels are resolved for exactly this runtime "
    "(infra.bundling.TargetPlatform); moving to a newer runtime is a deliberate, tested bump."
)


def nag_resource(stack: Stack, value: str) -> str:
    """Render a (token) string the way cdk-nag prints resources in finding ids: `<Logical.Arn>`."""
    return _render(stack.resolve(value))


def _render(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(_render(part) for part in parts)
    raise ValueError(f"cannot render {node!r} as a cdk-nag resource")


def _role(function: lambda_.Function) -> IConstruct:
    if function.role is None:
        raise ValueError(f"{function.node.path} has no execution role")
    return function.role


def _ack(construct: IConstruct, finding: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=f"AwsSolutions-{finding}", reason=reason))


def acknowledge_findings(
    stack: Stack,
    *,
    config: DeploymentConfig,
    storage: Storage,
    workers: Workers,
    workflows: Workflows,
    trigger: UploadTrigger,
) -> None:
    """The accepted findings of the imgpipe stack (see each reason)."""
    input_objects = nag_resource(stack, storage.input_bucket.arn_for_objects("*"))
    renditions = nag_resource(stack, storage.output_bucket.arn_for_objects(f"{config.outputPrefix}*"))
    for function in workers.functions.values():
        _ack(function, "L1", RUNTIME_REASON)
        _ack(_role(function), "IAM5[Resource::*]", XRAY_REASON)
    for task_name in (RESIZE_TASK, RENDER_ALL_TASK):
        _ack(
            _role(workers.functions[task_name]),
            f"IAM5[Resource::{input_objects}]",
            "Resize and render-all read any image a workflow names in the input bucket (uploads, or "
            "keys given to start-execution); GetObject only, on objects of that one bucket.",
        )
    for task_name in (RESIZE_TASK, UPLOAD_TASK, RENDER_ALL_TASK):
        _ack(
            _role(workers.functions[task_name]),
            f"IAM5[Resource::{renditions}]",
            "Renditions have computed keys under the output prefix; access is limited to that prefix "
            "of the output bucket.",
        )
    for name, machine in workflows.state_machines.items():
        _ack(machine.role, "IAM5[Resource::*]", XRAY_REASON)
        if config.stateMachineLogLevel != "ALL":
            _ack(
                machine,
                "SF1",
                f"cdk.json imgpipe:stateMachineLogLevel is {config.stateMachineLogLevel}: level ALL "
                "logs every state of every execution (~280 KB per image with execution data, about "
                "$140 per million images of CloudWatch Logs ingestion); failures are still logged with "
                "their error and cause, and X-Ray traces every execution. Set it to ALL to audit.",
            )
        for child in sorted(translated_children(workflows, name)):
            executions = nag_resource(
                stack,
                stack.format_arn(
                    service="states",
                    resource="execution",
                    resource_name=f"{workflows.state_machines[child].state_machine_name}:*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
            )
            _ack(
                machine.role,
                f"IAM5[Resource::{executions}]",
                f"Execution ARNs of the child workflow {child} are only known at run time; "
                "DescribeExecution/StopExecution are limited to that one state machine's executions.",
            )
    _ack(
        trigger.dead_letter_queue,
        "SQS3",
        "This queue is itself the dead-letter queue of the upload trigger; a DLQ of a DLQ adds nothing.",
    )
    for construct in stack.node.children:
        if construct.node.id.startswith("BucketNotificationsHandler"):
            _ack(
                construct,
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's own custom resource that turns on EventBridge notifications for the input bucket "
                "during deployment; its role is managed by aws-cdk-lib, not by this app.",
            )


def acknowledge_conductor_api(stack: Stack, api: ConductorApi) -> None:
    """The Conductor API function's findings: the runtime pin, X-Ray, and execution ARNs."""
    _ack(api.function, "L1", RUNTIME_REASON)
    role = _role(api.function)
    _ack(role, "IAM5[Resource::*]", XRAY_REASON)
    for executions in api.execution_arns:
        _ack(
            role,
            f"IAM5[Resource::{nag_resource(stack, executions)}]",
            "A Conductor workflow id names an execution only known at run time; DescribeExecution, "
            "GetExecutionHistory, StopExecution and RedriveExecution are limited to the executions of "
            "the stack's own Standard state machines, one statement resource per state machine.",
        )


def translated_children(workflows: Workflows, name: str) -> frozenset[str]:
    return workflows.children[name]
