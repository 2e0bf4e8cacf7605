"""Conductor's REST API on AWS, as synthesized: opt-in, IAM authorization on every route, the stage's
throttle and access logs, and a role that can only start, read, stop and redrive the stack's own
workflows. The function's environment is read back and validated as the function reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Validations

from imgpipe.config import PROJECT_ROOT
from infra import synthesized
from infra.conductor_api import (
    ACCESS_LOG_FORMAT,
    LAMBDA_ENVIRONMENT_BYTES,
    check_environment_size,
    environment_bytes,
)
from lambdas.conductor_api.environment import WORKFLOWS_VARIABLE, ConductorApiSettings

pytestmark = pytest.mark.slow

EXECUTION_ACTIONS = [
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "states:RedriveExecution",
    "states:StopExecution",
]


def _api(synth: Any) -> Any:
    api = synth.stack.conductor_api
    assert api is not None
    return api


def _function(synth: Any) -> dict[str, Any]:
    return synth.resources[synth.logical_id(_api(synth).function)]["Properties"]


def test_the_api_is_opt_in(synth):
    assert synth.config.conductorApi is False
    assert synth.stack.conductor_api is None
    assert not [t for t in (r["Type"] for r in synth.resources.values()) if t.startswith("AWS::ApiGatewayV2")]
    handlers = [r["Properties"]["Handler"] for r in synth.of_type("AWS::Lambda::Function").values()]
    assert "lambdas.conductor_api.handler.handler" not in handlers


def test_every_route_is_iam_authorized(synth_conductor_api):
    routes = synth_conductor_api.of_type("AWS::ApiGatewayV2::Route")
    assert {r["Properties"]["RouteKey"] for r in routes.values()} == {
        "POST /api/workflow",
        "POST /api/workflow/{workflow}",
        "GET /api/workflow/{workflow}",
        "DELETE /api/workflow/{workflow}",
        "POST /api/workflow/{workflow}/retry",
        "POST /api/tasks",
        "POST /api/tasks/{workflow}/{task}/{status}",
        "ANY /api/{proxy+}",
    }
    assert {r["Properties"]["AuthorizationType"] for r in routes.values()} == {"AWS_IAM"}
    # API Gateway refuses two variables at the same level of a path (ConflictException).
    variables_by_level: dict[tuple[str, ...], set[str]] = {}
    for route in routes.values():
        parts = route["Properties"]["RouteKey"].split(" ", 1)[1].split("/")
        for level, part in enumerate(parts):
            if part.startswith("{"):
                variables_by_level.setdefault(tuple(parts[:level]), set()).add(part)
    assert all(len(names) == 1 for names in variables_by_level.values()), variables_by_level
    (api,) = synth_conductor_api.of_type("AWS::ApiGatewayV2::Api").values()
    assert api["Properties"]["ProtocolType"] == "HTTP"
    assert not synth_conductor_api.of_type("AWS::ApiGatewayV2::Authorizer")  # IAM needs none
    # API Gateway may invoke the function only for this API's routes.
    permissions = synth_conductor_api.of_type("AWS::Lambda::Permission").values()
    api_id = synth_conductor_api.logical_id(_api(synth_conductor_api).api)
    invoke = [
        p["Properties"] for p in permissions if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert len(invoke) == len(routes)
    assert all(api_id in json.dumps(p["SourceArn"]) for p in invoke)


def test_the_default_stage_is_throttled_and_access_logged(synth_conductor_api):
    config = synth_conductor_api.config
    (stage,) = synth_conductor_api.of_type("AWS::ApiGatewayV2::Stage").values()
    properties = stage["Properties"]
    assert properties["StageName"] == "$default"
    assert properties["AutoDeploy"] is True
    assert properties["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": config.conductorApiRateLimit,
        "ThrottlingBurstLimit": config.conductorApiBurstLimit,
    }
    assert 0 < config.conductorApiRateLimit <= 10_000  # the account's Regional quota (config.py)
    logs = properties["AccessLogSettings"]
    assert json.loads(logs["Format"]) == ACCESS_LOG_FORMAT
    assert {"$context.identity.userArn", "$context.status", "$context.routeKey"} <= set(
        ACCESS_LOG_FORMAT.values()
    )
    log_group = synth_conductor_api.logical_id(_api(synth_conductor_api).access_logs)
    assert logs["DestinationArn"] == {"Fn::GetAtt": [log_group, "Arn"]}
    retention = synth_conductor_api.resources[log_group]["Properties"]["RetentionInDays"]
    assert retention == config.logRetentionDays


def test_the_role_starts_reads_stops_and_redrives_only_the_stacks_workflows(synth_conductor_api):
    synth = synth_conductor_api
    api = _api(synth)
    statements = synth.role_policy_statements(api.function.role)
    by_actions = {
        json.dumps(sorted(s["Action"]) if isinstance(s["Action"], list) else [s["Action"]]): s
        for s in statements
    }
    assert set(by_actions) == {
        json.dumps(["logs:CreateLogStream", "logs:PutLogEvents"]),
        json.dumps(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]),
        json.dumps(["states:StartExecution"]),
        json.dumps(EXECUTION_ACTIONS),
    }
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in statements)
    machines = synth.stack.workflows.state_machines
    start = by_actions[json.dumps(["states:StartExecution"])]["Resource"]
    assert start == [{"Ref": synth.logical_id(machines[name])} for name in sorted(machines)]
    # Executions of the Standard state machines only: Express ones support none of these calls.
    express = {
        n
        for n, m in machines.items()
        if synth.resources[synth.logical_id(m)]["Properties"].get("StateMachineType") == "EXPRESS"
    }
    assert express == {"image_renditions"}
    resources = by_actions[json.dumps(EXECUTION_ACTIONS)]["Resource"]
    rendered = sorted(synthesized_arn(r) for r in resources)
    assert rendered == sorted(
        f"execution:<{synth.logical_id(machines[n])}.Name>:*" for n in machines if n not in express
    )
    # The only wildcard resource is X-Ray's, which has no resource-level permissions.
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == [["xray:PutTelemetryRecords", "xray:PutTraceSegments"]]


TASK_RESPONSE_ACTIONS = ["states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"]


def test_the_role_answers_waiting_tasks_of_the_workflows_that_have_them_only(synth_callbacks_and_sinks):
    """No project workflow waits for a token (the role above has no SendTask*); with a HUMAN task's
    workflow deployed, SendTask* is granted on that state machine and on no other."""
    synth = synth_callbacks_and_sinks
    api = _api(synth)
    assert api.task_response_machines == ["review_upload"]
    statements = [
        s
        for s in synth.role_policy_statements(api.function.role)
        if "states:SendTask" in json.dumps(s["Action"])
    ]
    assert [sorted(s["Action"]) for s in statements] == [TASK_RESPONSE_ACTIONS]
    machine = synth.stack.workflows.state_machines["review_upload"]
    assert statements[0]["Resource"] == {"Ref": synth.logical_id(machine)}
    assert statements[0]["Effect"] == "Allow"
    assert "Condition" not in statements[0]
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert all(r.get("conclusion") != "failure" for r in report["pluginReports"])


def synthesized_arn(resource: dict[str, Any]) -> str:
    """`execution:<Logical.Name>:*` of an `arn:${Partition}:states:...:execution:<name>:*` join."""
    _, parts = resource["Fn::Join"]
    name = next(p["Fn::GetAtt"] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p)
    assert parts[0] == "arn:"
    assert ":states:" in parts
    assert ":execution:" in parts
    assert parts[-1] == ":*"
    return f"execution:<{name[0]}.{name[1]}>:*"


def test_the_environment_names_every_workflow_and_fits_lambdas_quota(synth_conductor_api):
    synth = synth_conductor_api
    variables = _function(synth)["Environment"]["Variables"]
    environment = {
        name: synthesized.resolve_value(value, synth.resources, synthesized.local_value_of)
        for name, value in variables.items()
    }
    settings = ConductorApiSettings.from_env(environment)
    assert set(settings.workflows) == set(synth.stack.workflows.state_machines) == set(synth.translated)
    for name, workflow in settings.workflows.items():
        assert workflow.stateMachineArn.endswith(f":stateMachine:{synth.config.state_machine_name(name)}")
        assert workflow.version == synth.project.workflows[name].version
        assert workflow.express == (name == "image_renditions")
    references = [ref for ref, _, _ in settings.workflows["image_multiple_convert_resize"].tasks]
    assert references == [
        "image_multiple_convert_resize_ref",
        "image_multiple_convert_resize_fork_ref",
        "image_multiple_convert_resize_join_ref",
    ]
    # Deployed size, and the bound synth checked with every ARN at its longest.
    assert (
        environment_bytes(environment)
        <= synth.stack.conductor_api.environment_bytes
        < LAMBDA_ENVIRONMENT_BYTES
    )
    assert environment["POWERTOOLS_SERVICE_NAME"] == "conductor_api"
    assert _function(synth)["Timeout"] < 30  # API Gateway's integration timeout (HTTP API quotas)
    assert WORKFLOWS_VARIABLE in variables


def test_nag_passes_with_the_api_and_acknowledges_exact_resources(synth_conductor_api):
    report = json.loads((synth_conductor_api.outdir / "validation-report.json").read_text())
    assert all(r.get("conclusion") != "failure" for r in report["pluginReports"])
    role = _api(synth_conductor_api).function.role
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledged = [rule for entry in role.node.metadata if entry.type == key for rule in entry.data]
    executions = [r for r in acknowledged if ":execution:" in r]
    assert len(executions) == len(_api(synth_conductor_api).execution_arns) == 5
    assert "AwsSolutions-IAM5" not in acknowledged


def test_an_environment_over_lambdas_4_kb_fails_synth_naming_the_variable():
    fits = {"CONDUCTOR_WORKFLOWS": "x" * (LAMBDA_ENVIRONMENT_BYTES - len("CONDUCTOR_WORKFLOWS"))}
    assert check_environment_size(fits) == LAMBDA_ENVIRONMENT_BYTES
    with pytest.raises(
        ValueError, match="over Lambda's 4096: too many workflows or tasks for CONDUCTOR_WORKFLOWS"
    ):
        check_environment_size(fits | {"A": "b"})


def test_server_errors_alarm_to_the_topic_and_are_documented(synth_conductor_api, synth):
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth_conductor_api.of_type("AWS::CloudWatch::Alarm").values()
    }
    prefix = synth_conductor_api.config.prefix
    alarm = alarms[f"{prefix}-conductor-api-5xx"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/ApiGateway", "5xx", "Sum")
    api_id = synth_conductor_api.logical_id(_api(synth_conductor_api).api)
    assert alarm["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": api_id}}]
    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    topic = synth_conductor_api.logical_id(synth_conductor_api.stack.monitoring.topic)
    assert alarm["AlarmActions"] == [{"Ref": topic}]
    assert not [a for a in synth.of_type("AWS::CloudWatch::Alarm").values() if "conductor" in json.dumps(a)]
    deploy = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    assert "`conductor-api-5xx`" in deploy[deploy.index("## Alarms") :]
