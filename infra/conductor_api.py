"""Conductor's REST API on AWS (`imgpipe:conductorApi`): an HTTP API with IAM authorization on every
route, in front of one Lambda (lambdas/conductor_api) that starts, reads, stops and redrives the
stack's state machines and completes their waiting HUMAN/WAIT tasks, and nothing else.

The $default stage serves the routes at Conductor's own paths (`https://<api>.execute-api.<region>
.amazonaws.com/api/workflow/...`), so the seeds' calls only change host and signing. It is
throttled (`imgpipe:conductorApiRateLimit`/`BurstLimit`) and writes one JSON access-log line per
request, with the caller's IAM ARN.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.aws_apigatewayv2_authorizers import HttpIamAuthorizer
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from imgpipe.config import DeploymentConfig, function_environment
from infra.bundling import LAMBDA_PLATFORM, TargetPlatform
from infra.code import worker_code
from infra.monitoring import PERIOD, AlarmRule
from infra.retention import owned_log_group
from infra.workers import handler_path
from infra.workflows import state_machine_type
from lambdas.conductor.status import task_references
from lambdas.conductor_api.environment import WORKFLOWS_VARIABLE, DeployedWorkflow, workflows_variable
from statemachines.translator.callback import waiting_task_refs

FUNCTION = "conductor_api"
# API Gateway's maximum integration timeout for HTTP APIs is 30 s
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html): the
# function stops first, so a slow call is its own clear error instead of API Gateway's 503.
FUNCTION_TIMEOUT_SECONDS = 28
FUNCTION_MEMORY_MB = 256
# "The total size of the set [of environment variables] does not exceed 4 KB"
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
LAMBDA_ENVIRONMENT_BYTES = 4096
# The longest state machine ARN prefix a Region can give (partition aws-iso-b, a 14-character
# Region name): what the size check assumes for every ARN before CloudFormation fills them in.
LONGEST_ARN_PREFIX = "arn:aws-iso-b:states:ap-southeast-5:123456789012:stateMachine:"
# Conductor's start/status/terminate/retry and task update calls; everything else under /api reaches
# the function through the proxy route, which answers 405 (registration), 501 (no Step Functions
# counterpart) or 404.
# One variable name per level: API Gateway is reported to refuse routes with different variables at
# the same level ("... has a conflicting variable on the same hierarchical level ...",
# ConflictException, quoted in https://github.com/KensioSoftware/yulin/pull/307; AWS's route page,
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html, does not
# say, and it cannot be checked without AWS), so `{workflow}` is the name in a start and the workflow
# id elsewhere; the function reads the path itself, never the variable.
ROUTES: tuple[tuple[str, tuple[apigw.HttpMethod, ...]], ...] = (
    ("/api/workflow", (apigw.HttpMethod.POST,)),
    ("/api/workflow/{workflow}", (apigw.HttpMethod.POST, apigw.HttpMethod.GET, apigw.HttpMethod.DELETE)),
    ("/api/workflow/{workflow}/retry", (apigw.HttpMethod.POST,)),
    ("/api/tasks", (apigw.HttpMethod.POST,)),
    ("/api/tasks/{workflow}/{task}/{status}", (apigw.HttpMethod.POST,)),
    ("/api/{proxy+}", (apigw.HttpMethod.ANY,)),
)
# One JSON line per request (HTTP API access-log variables:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.userArn",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


@jsii.implements(apigw.IAccessLogSettings)
class AccessLogs:
    """The stage's access logs: ACCESS_LOG_FORMAT lines into one log group (CDK types this
    setting as an interface, so it is a class here)."""

    def __init__(self, log_group: Any) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT))


def deployed_workflows(
    project: Any, state_machine_arns: Mapping[str, str], express: Mapping[str, bool]
) -> dict[str, DeployedWorkflow]:
    """CONDUCTOR_WORKFLOWS' entries: every deployed workflow, with the tasks of its definition.
    ARNs may be CloudFormation tokens, so the entries are built without validation here; the
    function validates them when it reads its environment."""
    entries = {}
    for name, arn in state_machine_arns.items():
        definition = project.workflows[name].model_dump(mode="json", exclude_unset=True)
        tasks = tuple((r.reference, r.name, r.type) for r in task_references(definition).values())
        entries[name] = DeployedWorkflow.model_construct(
            stateMachineArn=arn, version=project.workflows[name].version, express=express[name], tasks=tasks
        )
    return entries


def environment_bytes(environment: Mapping[str, str]) -> int:
    """The size Lambda counts: every variable's name and value."""
    return sum(len(variable.encode()) + len(value.encode()) for variable, value in environment.items())


def check_environment_size(environment: Mapping[str, str]) -> int:
    """The environment's size, or a synth error when Lambda would refuse it at deploy."""
    size = environment_bytes(environment)
    if size > LAMBDA_ENVIRONMENT_BYTES:
        raise ValueError(
            f"the {FUNCTION} function's environment would be up to {size} bytes, over Lambda's "
            f"{LAMBDA_ENVIRONMENT_BYTES}: too many workflows or tasks for {WORKFLOWS_VARIABLE}"
        )
    return size


class ConductorApi(Construct):
    """The HTTP API, its stage, its access logs and the function behind it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        project: Any,
        translated: Mapping[str, Any],
        state_machines: Mapping[str, sfn.StateMachine],
        layer: lambda_.ILayerVersion,
        target: TargetPlatform = LAMBDA_PLATFORM,
    ) -> None:
        super().__init__(scope, construct_id)
        express = {
            name: state_machine_type(config, translated[name]) == sfn.StateMachineType.EXPRESS
            for name in state_machines
        }
        arns = {name: machine.state_machine_arn for name, machine in state_machines.items()}
        environment = function_environment(FUNCTION, config, output_bucket="") | {
            WORKFLOWS_VARIABLE: workflows_variable(deployed_workflows(project, arns, express))
        }
        # The ARNs are tokens until deploy: the check counts each at its longest.
        longest = {name: LONGEST_ARN_PREFIX + config.state_machine_name(name) for name in state_machines}
        at_longest = workflows_variable(deployed_workflows(project, longest, express))
        self.environment_bytes = check_environment_size(environment | {WORKFLOWS_VARIABLE: at_longest})
        self.function = self._function(config, environment, layer, target)
        self._grant(state_machines, express)
        self.task_response_machines = self._grant_task_responses(state_machines, translated)
        self.access_logs = owned_log_group(
            self,
            "AccessLogs",
            name_prefix=f"/aws/vendedlogs/apigateway/{config.prefix}-conductor-api",
            config=config,
        )
        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=f"{config.prefix}-conductor-api",
            description="Conductor's REST API (start, status, terminate, retry, task updates) on imgpipe's "
            "state machines",
            create_default_stage=False,
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(
                rate_limit=config.conductorApiRateLimit, burst_limit=config.conductorApiBurstLimit
            ),
            access_log_settings=AccessLogs(self.access_logs),
        )
        integration = HttpLambdaIntegration("Function", self.function)
        authorizer = HttpIamAuthorizer()
        self.routes: list[apigw.HttpRoute] = []
        for path, methods in ROUTES:
            self.routes += self.api.add_routes(
                path=path, methods=list(methods), integration=integration, authorizer=authorizer
            )
        CfnOutput(
            Stack.of(self),
            "ConductorApiUrl",
            value=f"{self.api.api_endpoint}/api",
            description="Conductor's REST API (IAM-signed requests: curl --aws-sigv4, docs/deploy.md)",
        )

    def alarm_rules(self) -> list[AlarmRule]:
        """`conductor-api-5xx`: the API answered a server error (the function failed, timed out or
        answered 500, or Step Functions refused a call: 502)."""
        return [
            AlarmRule(
                "conductor-api-5xx",
                self.api.metric_server_error(period=PERIOD, statistic="Sum"),
                "Conductor's REST API answered 5xx",
            )
        ]

    def _function(
        self,
        config: DeploymentConfig,
        environment: dict[str, str],
        layer: lambda_.ILayerVersion,
        target: TargetPlatform,
    ) -> lambda_.Function:
        function_name = config.function_name(FUNCTION)
        log_group = owned_log_group(
            self, "FunctionLogs", name_prefix=f"/aws/lambda/{function_name}", config=config
        )
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs Conductor's REST API over the stack's state machines",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        return lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="imgpipe: Conductor's REST API (start, status, terminate, retry, task updates) on "
            "Step Functions",
            runtime=target.runtime,
            architecture=target.architecture,
            handler=handler_path(FUNCTION),
            code=worker_code(target),
            layers=[layer],
            memory_size=FUNCTION_MEMORY_MB,
            timeout=Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
            environment=environment,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
        )

    def _grant(self, state_machines: Mapping[str, sfn.StateMachine], express: Mapping[str, bool]) -> None:
        """StartExecution on the stack's state machines; reading, stopping and redriving on the
        executions of its Standard ones (Express executions support none of these calls)."""
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[m.state_machine_arn for _, m in sorted(state_machines.items())],
            )
        )
        self.execution_arns = [
            execution_arn(self, machine)
            for name, machine in sorted(state_machines.items())
            if not express[name]
        ]
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "states:DescribeExecution",
                    "states:GetExecutionHistory",
                    "states:StopExecution",
                    "states:RedriveExecution",
                ],
                resources=self.execution_arns,
            )
        )

    def _grant_task_responses(
        self, state_machines: Mapping[str, sfn.StateMachine], translated: Mapping[str, Any]
    ) -> list[str]:
        """SendTaskSuccess/Failure/Heartbeat (Conductor's task update API) on the state machines with
        a task that waits for its token (HUMAN, WAIT without duration/until), and on no other. These
        calls are authorised on the state machine (aws-cdk-lib's `StateMachine.grantTaskResponse`
        grants exactly these three on `stateMachineArn`; the Service Authorization Reference,
        https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html,
        lists their resource types). The names of those workflows, sorted."""
        waiting = sorted(name for name in state_machines if waiting_task_refs(translated[name].asl))
        if waiting:
            self.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
                    resources=[state_machines[name].state_machine_arn for name in waiting],
                )
            )
        return waiting


def execution_arn(scope: Construct, machine: sfn.StateMachine) -> str:
    """Every execution of one state machine: `arn:...:execution:<state machine name>:*`."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{machine.state_machine_name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
