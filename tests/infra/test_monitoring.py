"""Alarms, their encrypted SNS topic and the dashboard, asserted on the synthesized template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from pydantic import ValidationError

from imgpipe.config import PROJECT_ROOT, DeploymentConfig
from infra.monitoring import EXPIRY_WARNING_FRACTION, SUSTAINED_PERIODS, Monitoring

pytestmark = pytest.mark.slow

# Namespace -> metric names, as the AWS metric pages spell them (Step Functions "Monitoring Step
# Functions metrics using Amazon CloudWatch", Lambda "Types of metrics for Lambda functions", SQS
# "Available CloudWatch metrics for Amazon SQS", EventBridge "Monitoring Amazon EventBridge").
DOCUMENTED_METRICS = {
    "AWS/States": {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled", "ExecutionsAborted"},
    "AWS/Lambda": {"Errors", "Throttles"},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
    "AWS/Events": {"FailedInvocations", "InvocationsFailedToBeSentToDlq", "InvocationsSentToDlq"},
}


def _alarms(synth: Any) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
    }


def _watching(alarms: dict[str, dict[str, Any]], metric: str, dimension: dict[str, Any]) -> dict[str, Any]:
    (alarm,) = [a for a in alarms.values() if a["MetricName"] == metric and a["Dimensions"] == [dimension]]
    return alarm


def _ref(synth: Any, construct: Any) -> dict[str, str]:
    return {"Ref": synth.logical_id(construct)}


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(synth):
    alarms = _alarms(synth)
    topic = _ref(synth, synth.stack.monitoring.topic)
    assert alarms
    for name, alarm in alarms.items():
        # The topic policy lets CloudWatch publish only for alarms named <prefix>-*.
        assert name.startswith(f"{synth.config.prefix}-")
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["OKActions"] == [topic], name
        queue_depth = alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["TreatMissingData"] == ("ignore" if queue_depth else "notBreaching"), name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name
        assert alarm["Period"] == 300, name
        assert alarm["MetricName"] in DOCUMENTED_METRICS[alarm["Namespace"]], name
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"], name


def test_each_state_machine_alarms_on_failed_timed_out_and_throttled(synth):
    alarms = _alarms(synth)
    # every translated workflow and the backfill
    machines = {**synth.stack.workflows.state_machines, "backfill": synth.stack.backfill.state_machine}
    for machine in machines.values():
        dimension = {"Name": "StateMachineArn", "Value": _ref(synth, machine)}
        for metric, periods in (
            ("ExecutionsFailed", 1),
            ("ExecutionsTimedOut", 1),
            ("ExecutionThrottled", 3),
        ):
            alarm = _watching(alarms, metric, dimension)
            assert (alarm["Namespace"], alarm["Statistic"], alarm["Threshold"]) == ("AWS/States", "Sum", 1)
            assert alarm["EvaluationPeriods"] == (SUSTAINED_PERIODS if periods > 1 else 1)
    assert len([a for a in alarms.values() if a["Namespace"] == "AWS/States"]) == 3 * len(machines)


def test_each_function_alarms_on_errors_and_sustained_throttles(synth):
    alarms = _alarms(synth)
    functions = synth.stack.workers.functions
    for function in functions.values():
        dimension = {"Name": "FunctionName", "Value": _ref(synth, function)}
        errors = _watching(alarms, "Errors", dimension)
        throttles = _watching(alarms, "Throttles", dimension)
        assert (errors["Namespace"], errors["Statistic"], errors["Threshold"]) == ("AWS/Lambda", "Sum", 1)
        assert errors["EvaluationPeriods"] == 1
        assert throttles["EvaluationPeriods"] == SUSTAINED_PERIODS
    assert len([a for a in alarms.values() if a["Namespace"] == "AWS/Lambda"]) == 2 * len(functions)


def test_the_dead_letter_queue_alarms_on_any_message_and_before_it_expires(synth):
    alarms = _alarms(synth)
    dlq = synth.stack.trigger.dead_letter_queue
    dimension = {"Name": "QueueName", "Value": {"Fn::GetAtt": [synth.logical_id(dlq), "QueueName"]}}
    visible = _watching(alarms, "ApproximateNumberOfMessagesVisible", dimension)
    assert (visible["Statistic"], visible["Threshold"]) == ("Maximum", 1)
    retention = synth.resources[synth.logical_id(dlq)]["Properties"]["MessageRetentionPeriod"]
    age = _watching(alarms, "ApproximateAgeOfOldestMessage", dimension)
    assert age["Threshold"] == retention * EXPIRY_WARNING_FRACTION < retention


def test_the_upload_rule_alarms_when_an_event_is_lost(synth):
    alarms = _alarms(synth)
    dimension = {"Name": "RuleName", "Value": _ref(synth, synth.stack.trigger.rule)}
    for metric in ("FailedInvocations", "InvocationsFailedToBeSentToDlq"):
        alarm = _watching(alarms, metric, dimension)
        assert (alarm["Namespace"], alarm["Statistic"], alarm["Threshold"]) == ("AWS/Events", "Sum", 1)


def test_topic_encrypted_with_a_rotated_key_cloudwatch_may_use_ssl_only(synth):
    monitoring = synth.stack.monitoring
    (topic,) = synth.of_type("AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synth.resources[key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    key_statements = key["Properties"]["KeyPolicy"]["Statement"]
    (for_cloudwatch,) = [
        s for s in key_statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(for_cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    (policy,) = synth.of_type("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert policy["Properties"]["Topics"] == [_ref(synth, monitoring.topic)]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    source = json.dumps(allow["Condition"]["ArnLike"]["aws:SourceArn"])
    assert f":alarm:{synth.config.prefix}-*" in source
    assert synth.of_type("AWS::SNS::Subscription") == {}  # no imgpipe:alarmEmail in cdk.json


def _dashboard(synth: Any) -> dict[str, Any]:
    """The dashboard body as JSON, each reference to a resource replaced by `<logical id>`."""
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    separator, parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"]
    rendered = separator.join(
        part if isinstance(part, str) else f"<{(part.get('Ref') or part['Fn::GetAtt'][0])}>" for part in parts
    )
    return json.loads(rendered)


def test_dashboard_shows_every_alarm_and_the_durations(synth):
    widgets = _dashboard(synth)["widgets"]
    (status,) = [w for w in widgets if w["type"] == "alarm"]
    assert set(status["properties"]["alarms"]) == {f"<{i}>" for i in synth.of_type("AWS::CloudWatch::Alarm")}
    metrics = [m for w in widgets for m in w["properties"].get("metrics", [])]
    names = {entry[1] for entry in metrics if len(entry) > 1 and isinstance(entry[1], str)}
    assert {"ExecutionTime", "Duration", "ExecutionsAborted", "ExecutionsRedriven", "MatchedEvents"} <= names
    expressions = {entry[0]["expression"] for entry in metrics if isinstance(entry[0], dict)}
    assert expressions == {
        'SEARCH(\'{imgpipe,service} MetricName="RenditionsPlanned" OR MetricName="RenditionsWritten" '
        "OR MetricName=\"RenditionsPublished\"', 'Sum', 300)"
    }
    timeouts = {
        line["value"]
        for w in widgets
        for line in w["properties"].get("annotations", {}).get("horizontal", [])
        if line["label"] == "timeout"
    }
    functions = synth.stack.workers.functions.values()
    assert timeouts == {
        synth.resources[synth.logical_id(f)]["Properties"]["Timeout"] * 1000 for f in functions
    }


def test_docs_explain_every_alarm():
    deploy = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    alarms = deploy[deploy.index("## Alarms") :]
    for metrics in DOCUMENTED_METRICS.values():
        for metric in metrics:
            assert f"`{metric}`" in alarms, metric


def _monitoring_alone(config: DeploymentConfig, queues: dict[str, Any] | None = None) -> Template:
    stack = Stack(App(), "Alone")
    rule = events.Rule(stack, "Rule", event_pattern=events.EventPattern(source=["aws.s3"]))
    watched = {name: factory(stack) for name, factory in (queues or {}).items()}
    Monitoring(
        stack, "Monitoring", config=config, functions={}, state_machines={}, trigger_rule=rule, queues=watched
    )
    return Template.from_stack(stack)


def test_alarm_email_subscribes_and_extra_queues_are_watched():
    config = DeploymentConfig.from_context({"imgpipe:alarmEmail": "oncall@example.com"})
    template = _monitoring_alone(
        config,
        {"failed-sources": lambda stack: sqs.Queue(stack, "Failed", retention_period=Duration.days(2))},
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    names = {a["Properties"]["AlarmName"]: a["Properties"] for a in alarms.values()}
    assert names["imgpipe-queue-failed-sources-expiring"]["Threshold"] == 2 * 86400 * EXPIRY_WARNING_FRACTION
    assert (
        names["imgpipe-queue-failed-sources-messages"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    )


def test_a_queue_without_retention_uses_the_sqs_default():
    template = _monitoring_alone(
        DeploymentConfig.from_context({}), {"plain": lambda stack: sqs.Queue(stack, "Plain")}
    )
    alarms = template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": "imgpipe-queue-plain-expiring"}}
    )
    (alarm,) = alarms.values()
    assert alarm["Properties"]["Threshold"] == 345_600 * EXPIRY_WARNING_FRACTION


@pytest.mark.parametrize("bad", ["oncall", "on call@example.com", "oncall@example", "@example.com"])
def test_a_malformed_alarm_email_is_refused_naming_the_field(bad):
    with pytest.raises(ValidationError, match="alarmEmail"):
        DeploymentConfig.from_context({"imgpipe:alarmEmail": bad})
