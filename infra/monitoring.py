"""CloudWatch alarms on everything that can lose or stall an upload, sent to an encrypted SNS topic,
and one dashboard with the same metrics plus durations.

Every alarm counts in 5-minute periods. Missing data is "not breaching" for counts of events: the
services publish them only when something happens (EventBridge sends FailedInvocations only when
it is not zero, Lambda and Step Functions only for invocations and executions), so an idle
pipeline has no data and is healthy. A queue's message count is the exception: a gap keeps the
alarm's state, so only a datapoint showing the queue empty clears it. Metric names, namespaces and
what to do for each alarm: docs/deploy.md "Alarms".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe.config import PLANNER_TASK, DeploymentConfig, function_environment

PERIOD = Duration.minutes(5)
# Throttling that retries absorb (issue 11 §4) is waiting, not failure: alarm only when it lasts
# this many consecutive periods.
SUSTAINED_PERIODS = 3
# SQS's default MessageRetentionPeriod (345,600 s, CreateQueue API reference) when a queue sets none.
SQS_DEFAULT_RETENTION = Duration.days(4)
# Alarm on a queue's oldest message at this fraction of its retention, while it can still be saved.
EXPIRY_WARNING_FRACTION = 0.75
EVENTS_NAMESPACE = "AWS/Events"
# The rule metrics that mean an upload did not start its workflow (EventBridge monitoring page),
# by alarm name suffix.
RULE_FAILURE_METRICS = {
    "trigger-failed-invocations": "FailedInvocations",
    "trigger-dlq-delivery-failed": "InvocationsFailedToBeSentToDlq",
}
DURATION_STATISTICS = ("p50", "p99", "Maximum")
# The workers' own EMF metrics (Powertools adds the `service` dimension: the task name).
WORKER_METRICS = ("RenditionsPlanned", "RenditionsWritten", "RenditionsPublished")
RULE_DASHBOARD_METRICS = (
    "MatchedEvents",
    "Invocations",
    "RetryInvocationAttempts",
    "FailedInvocations",
    "InvocationsSentToDlq",
    "InvocationsFailedToBeSentToDlq",
    "ThrottledRules",
)


@dataclass(frozen=True)
class AlarmRule:
    """One alarm: the metric, what it means, the value at which it fires, for how many periods."""

    suffix: str
    metric: cloudwatch.IMetric
    description: str
    threshold: float = 1
    periods: int = 1
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING


def queue_retention(queue: sqs.IQueue) -> Duration:
    """The queue's message retention as deployed (SQS's default when the template sets none)."""
    cfn_queue = queue.node.default_child
    seconds = cfn_queue.message_retention_period if isinstance(cfn_queue, sqs.CfnQueue) else None
    return Duration.seconds(seconds) if isinstance(seconds, int | float) else SQS_DEFAULT_RETENTION


def rule_metric(rule: events.IRule, metric_name: str) -> cloudwatch.Metric:
    """A per-rule EventBridge metric (default bus: only the RuleName dimension)."""
    return cloudwatch.Metric(
        namespace=EVENTS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=PERIOD,
    )


def counts_and_durations(
    title: str,
    counts: Sequence[cloudwatch.IMetric],
    durations: Sequence[cloudwatch.IMetric],
    timeout_ms: float | None = None,
) -> tuple[cloudwatch.GraphWidget, cloudwatch.GraphWidget]:
    """One dashboard row: outcome counts beside durations (with the timeout as a line, if any)."""
    timeout_line = (
        [cloudwatch.HorizontalAnnotation(value=timeout_ms, label="timeout")] if timeout_ms else None
    )
    return (
        cloudwatch.GraphWidget(title=title, left=counts, width=12),
        cloudwatch.GraphWidget(
            title=f"{title}: duration (ms)", left=durations, left_annotations=timeout_line, width=12
        ),
    )


class Monitoring(Construct):
    """Alarms (in `self.alarms`, keyed by alarm name suffix) to `self.topic`, and `self.dashboard`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        functions: Mapping[str, lambda_.Function],
        state_machines: Mapping[str, sfn.StateMachine],
        trigger_rule: events.IRule,
        queues: Mapping[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = config.prefix
        namespace = function_environment(PLANNER_TASK, config, output_bucket="")[
            "POWERTOOLS_METRICS_NAMESPACE"
        ]
        names = " OR ".join(f'MetricName="{name}"' for name in WORKER_METRICS)
        self.worker_metrics_search = (
            f"SEARCH('{{{namespace},service}} {names}', 'Sum', {PERIOD.to_seconds()})"
        )
        self.topic = self._topic(config)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.functions, self.state_machines, self.queues = functions, state_machines, queues
        self.trigger_rule = trigger_rule
        for rule in self._rules():
            self._alarm(rule)
        self.dashboard = self._dashboard()

    def _topic(self, config: DeploymentConfig) -> sns.Topic:
        """SNS with a customer managed key: CloudWatch cannot publish to a topic encrypted with the
        AWS managed alias/aws/sns, whose key policy cannot grant it kms:GenerateDataKey/Decrypt."""
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the {config.prefix} alarm notifications at rest in SNS",
            enable_key_rotation=True,
            # Protects only notifications in transit through SNS; nothing outlives the topic.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{config.prefix} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublish",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                            f"alarm:{config.prefix}-*"
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        if config.alarmEmail:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarmEmail))
        return topic

    def _rules(self) -> list[AlarmRule]:
        rules: list[AlarmRule] = []
        sustained = f" for {SUSTAINED_PERIODS} periods in a row"
        for name, queue in self.queues.items():
            depth = queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=PERIOD)
            age = queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=PERIOD)
            expiry = queue_retention(queue).to_seconds() * EXPIRY_WARNING_FRACTION
            rules += [
                # Only data that says the queue is empty clears it, never a gap in the metric.
                AlarmRule(
                    f"queue-{name}-messages",
                    depth,
                    f"{name} holds messages: uploads that were not processed",
                    missing=cloudwatch.TreatMissingData.IGNORE,
                ),
                AlarmRule(
                    f"queue-{name}-expiring",
                    age,
                    f"{name}'s oldest message is {EXPIRY_WARNING_FRACTION:.0%} through its retention",
                    threshold=expiry,
                ),
            ]
        rules += [
            AlarmRule(
                suffix,
                rule_metric(self.trigger_rule, metric),
                f"Uploads that did not start a workflow ({metric})",
            )
            for suffix, metric in RULE_FAILURE_METRICS.items()
        ]
        # (suffix, metric, meaning, periods): execution and invocation outcomes per resource.
        outcomes: list[tuple[str, cloudwatch.IMetric, str, int]] = []
        for name, machine in self.state_machines.items():
            outcomes += [
                (f"workflow-{name}-failed", machine.metric_failed(period=PERIOD), "executions failed", 1),
                (f"workflow-{name}-timed-out", machine.metric_timed_out(period=PERIOD), "timed out", 1),
                (
                    f"workflow-{name}-throttled",
                    machine.metric_throttled(period=PERIOD),
                    "throttled",
                    SUSTAINED_PERIODS,
                ),
            ]
        for task, function in self.functions.items():
            outcomes += [
                (f"worker-{task}-errors", function.metric_errors(period=PERIOD), "raised or timed out", 1),
                (
                    f"worker-{task}-throttles",
                    function.metric_throttles(period=PERIOD),
                    "throttled",
                    SUSTAINED_PERIODS,
                ),
            ]
        rules += [
            AlarmRule(
                suffix, metric, f"{suffix}: {meaning}{sustained if periods > 1 else ''}", periods=periods
            )
            for suffix, metric, meaning, periods in outcomes
        ]
        return rules

    def add_alarm(self, rule: AlarmRule) -> None:
        """One more alarm to the topic, for a part of the stack created after this construct."""
        self._alarm(rule)

    def _alarm(self, rule: AlarmRule) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"Alarm-{rule.suffix}",
            alarm_name=f"{self.prefix}-{rule.suffix}",
            alarm_description=f"{rule.description}. What to do: docs/deploy.md, Alarms.",
            metric=rule.metric,
            threshold=rule.threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=rule.periods,
            datapoints_to_alarm=rule.periods,
            treat_missing_data=rule.missing,
        )
        action = actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms[rule.suffix] = alarm

    def _dashboard(self) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{self.prefix}-operations")
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms.values()), width=24, height=4
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Upload rule",
                left=[rule_metric(self.trigger_rule, name) for name in RULE_DASHBOARD_METRICS],
                width=12,
            ),
            *[
                cloudwatch.GraphWidget(
                    title=f"Queue {name}",
                    left=[queue.metric_approximate_number_of_messages_visible(period=PERIOD)],
                    right=[queue.metric_approximate_age_of_oldest_message(period=PERIOD)],
                    width=12,
                )
                for name, queue in self.queues.items()
            ],
        )
        for name, machine in self.state_machines.items():
            executions = [
                machine.metric_started(period=PERIOD),
                machine.metric_succeeded(period=PERIOD),
                machine.metric_failed(period=PERIOD),
                machine.metric_timed_out(period=PERIOD),
                machine.metric_aborted(period=PERIOD),
                machine.metric_throttled(period=PERIOD),
                machine.metric("ExecutionsRedriven", statistic="Sum", period=PERIOD),
            ]
            times = [machine.metric_time(statistic=s, period=PERIOD) for s in DURATION_STATISTICS]
            dashboard.add_widgets(*counts_and_durations(f"{name} executions", executions, times))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Renditions (worker metrics)",
                left=[cloudwatch.SearchExpression(expression=self.worker_metrics_search, label="")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Lambda concurrency (whole account and Region)",
                left=[
                    lambda_.Function.metric_all_concurrent_executions(statistic="Maximum", period=PERIOD),
                    lambda_.Function.metric_all_unreserved_concurrent_executions(
                        statistic="Maximum", period=PERIOD
                    ),
                ],
                width=12,
            ),
        )
        for task, function in self.functions.items():
            invocations = [
                function.metric_invocations(period=PERIOD),
                function.metric_errors(period=PERIOD),
                function.metric_throttles(period=PERIOD),
            ]
            durations = [function.metric_duration(statistic=s, period=PERIOD) for s in DURATION_STATISTICS]
            timeout = function.timeout.to_milliseconds() if function.timeout else None
            dashboard.add_widgets(
                *counts_and_durations(f"{task} invocations", invocations, durations, timeout)
            )
        return dashboard
