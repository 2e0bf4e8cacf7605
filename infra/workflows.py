"""One state machine per Conductor workflow, its definition exactly what the translator emits.

The ASL is deployed as a string with `${LambdaArn_<task>}` / `${StateMachineArn_<workflow>}` (and
`${QueueUrl_<queue>}` of an EVENT task's `sqs:<queue>` sink, whose queue is created here) filled by
definition substitutions: the same text the local runtime fills with moto's ARNs and URLs.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe.config import DeploymentConfig
from infra.retention import owned_log_group, retain_data_store
from statemachines.translator.asl_states import task_states
from statemachines.translator.emitter import EXPRESS_MAX_SECONDS
from statemachines.translator.event import PUT_EVENTS, queue_url_placeholder, sqs_sink_queues
from statemachines.translator.translation import Translation

# EVENT `sqs:<queue>` sinks: a message waits for its consumer 4 days (MessageRetentionPeriod's
# default; 60 s to 14 days: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html);
# one received 5 times without being deleted moves to the dead-letter queue, which keeps it 14 days:
# a message expires by its original enqueue time, so the DLQ's retention must be the longer one
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
EVENT_RETENTION = Duration.days(4)
EVENT_DEAD_LETTER_RETENTION = Duration.days(14)
EVENT_MAX_RECEIVES = 5
# The managed rule Step Functions creates to learn when a `.sync` child execution ends.
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"


def lambda_placeholder(task_name: str) -> str:
    return f"LambdaArn_{task_name}"


def state_machine_placeholder(workflow_name: str) -> str:
    return f"StateMachineArn_{workflow_name}"


def creation_order(translated: Mapping[str, Translation]) -> list[str]:
    """Children before parents, so every `${StateMachineArn_<child>}` has an ARN to point at."""
    graph = {name: set(tw.workflow_dependencies) for name, tw in translated.items()}
    missing = {child for children in graph.values() for child in children} - set(graph)
    if missing:
        raise ValueError(f"workflows start unknown sub-workflows: {sorted(missing)}")
    return list(graphlib.TopologicalSorter(graph).static_order())


def unfilled_placeholders(tw: Translation, filled: Mapping[str, str]) -> list[str]:
    """Placeholders of a definition that this stack gives no value (e.g. `${QueueUrl_<queue>}` of an
    EVENT task's SQS sink: the stack creates no such queue)."""
    return sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", tw.asl_json)) - set(filled))


def _encrypted_queue(
    scope: Construct, construct_id: str, retention: Duration, redrive: sqs.DeadLetterQueue | None = None
) -> sqs.Queue:
    """An SSE-SQS queue that refuses requests without TLS."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=retention,
        dead_letter_queue=redrive,
    )


def state_machine_type(config: DeploymentConfig, tw: Translation) -> sfn.StateMachineType:
    """Per workflow: Express only when asked for (workflowTypes, else workflowType) and when the
    workflow allows it (no `.sync` children): `DeploymentConfig.deployed_workflow_type`."""
    deployed = config.deployed_workflow_type(tw.name, express_compatible=tw.express_compatible)
    return sfn.StateMachineType.EXPRESS if deployed == "EXPRESS" else sfn.StateMachineType.STANDARD


def log_options(config: DeploymentConfig, log_group: Any) -> sfn.LogOptions:
    """stateMachineLogLevel and stateMachineLogExecutionData from cdk.json. The default, ERROR
    without execution data, writes nothing for a succeeded execution and the error and cause of a
    failed one (the levels: https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html),
    and every byte is billed as CloudWatch Logs ingestion (vended logs, $0.50 per GB in us-east-1:
    https://aws.amazon.com/cloudwatch/pricing/)."""
    return sfn.LogOptions(
        destination=log_group,
        level=sfn.LogLevel[config.stateMachineLogLevel],
        include_execution_data=config.stateMachineLogExecutionData,
    )


def express_duration_warning(tw: Any) -> str | None:
    """Express stops at 5 minutes: say so when the worst case (every retry, every timeout) may not fit."""
    worst = tw.worst_case_seconds
    if worst is not None and worst <= EXPRESS_MAX_SECONDS:
        return None
    bound = "has no static bound" if worst is None else f"is {worst:.0f} s"
    return (
        f"{tw.name} runs as Express, which stops at {EXPRESS_MAX_SECONDS} s; its worst case {bound} "
        "(every retry taken, every attempt timing out). Lower the task definitions' timeouts or retries, "
        "or deploy it as Standard."
    )


class Workflows(Construct):
    """The translated state machines, keyed by Conductor workflow name in `self.state_machines`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        translated: Mapping[str, Translation],
        functions: Mapping[str, lambda_.IFunction],
        extra_substitutions: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """``extra_substitutions``: per workflow, placeholders beyond Lambda and child ARNs
        (the trigger envelope's table and queue, imgpipe.envelope)."""
        super().__init__(scope, construct_id)
        self.state_machines: dict[str, sfn.StateMachine] = {}
        self.roles: dict[str, iam.Role] = {}
        self.children: dict[str, frozenset[str]] = {}
        self.event_queues: dict[str, sqs.Queue] = {}  # by the queue name of an `sqs:<queue>` sink
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for name in creation_order(translated):
            tw = translated[name]
            unknown = set(tw.lambda_tasks) - set(functions)
            if unknown:
                raise ValueError(
                    f"workflow {name} invokes tasks without a worker function: {sorted(unknown)}"
                )
            machine_name = config.state_machine_name(name)
            role = self._role(name, tw, functions)
            substitutions = {
                lambda_placeholder(t): functions[t].function_arn for t in sorted(tw.lambda_tasks)
            }
            substitutions |= {
                state_machine_placeholder(child): self.state_machines[child].state_machine_arn
                for child in sorted(tw.workflow_dependencies)
            }
            for queue in sqs_sink_queues(tw.asl):
                sink = self.event_queues.get(queue) or self._event_queue(config, queue)
                substitutions[queue_url_placeholder(queue)] = sink.queue_url
                sink.grant(role, "sqs:SendMessage")  # SSE-SQS: no KMS key to grant
            substitutions |= dict((extra_substitutions or {}).get(name, {}))
            unfilled = unfilled_placeholders(tw, substitutions)
            if unfilled:
                raise ValueError(
                    f"workflow {name} needs resources this stack does not create: {', '.join(unfilled)}"
                )
            log_group = owned_log_group(
                self, f"{name}Logs", name_prefix=f"/aws/vendedlogs/states/{machine_name}", config=config
            )
            self.state_machines[name] = sfn.StateMachine(
                self,
                name,
                state_machine_name=machine_name,
                definition_body=sfn.DefinitionBody.from_string(tw.asl_json),
                definition_substitutions=substitutions,
                state_machine_type=state_machine_type(config, tw),
                role=role,
                tracing_enabled=True,
                logs=log_options(config, log_group),
            )
            if state_machine_type(config, tw) == sfn.StateMachineType.EXPRESS:
                warning = express_duration_warning(tw)
                if warning:
                    Annotations.of(self.state_machines[name]).add_warning(warning)
            self.roles[name] = role
            self.children[name] = frozenset(tw.child_workflows)

    def _event_queue(self, config: DeploymentConfig, queue: str) -> sqs.Queue:
        """The queue of EVENT tasks' `sqs:<queue>` sink (one per name, whichever workflows send to it):
        SSE-SQS, TLS only, and a dead-letter queue that keeps what consumers fail on for SQS's
        longest retention. Named by CloudFormation (a retained queue never blocks a redeploy); its
        URL is a stack output."""
        dead_letters = _encrypted_queue(self, f"EventQueue{queue}DeadLetters", EVENT_DEAD_LETTER_RETENTION)
        redrive = sqs.DeadLetterQueue(max_receive_count=EVENT_MAX_RECEIVES, queue=dead_letters)
        sink = _encrypted_queue(self, f"EventQueue{queue}", EVENT_RETENTION, redrive)
        for store in (dead_letters, sink):
            retain_data_store(store, config)
        CfnOutput(
            self,
            f"EventQueue{queue}Url",
            value=sink.queue_url,
            description=f"SQS queue of EVENT tasks' sink sqs:{queue}",
        )
        self.event_queues[queue] = sink
        self.dead_letter_queues[queue] = dead_letters
        return sink

    def _role(self, name: str, tw: Translation, functions: Mapping[str, lambda_.IFunction]) -> iam.Role:
        """Invoke only this workflow's functions; start/describe/stop only its own children."""
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Runs the {name} workflow",
        )
        if tw.lambda_tasks:
            arns = [functions[t].function_arn for t in sorted(tw.lambda_tasks)]
            # Unqualified ARNs only: the definitions invoke `$LATEST` through the substituted ARN.
            role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=arns))
        if tw.started_workflows:
            # START_WORKFLOW: started and not waited for, so nothing to describe, stop or be told of
            started = [self.state_machines[w].state_machine_arn for w in sorted(tw.started_workflows)]
            role.add_to_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=started))
        if any(state["Resource"].startswith(PUT_EVENTS) for state in task_states(tw.asl)):
            # EVENT tasks and the announcement of HUMAN/WAIT tasks: the account's default bus only
            bus = Stack.of(self).format_arn(service="events", resource="event-bus", resource_name="default")
            role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[bus]))
        if tw.child_workflows:
            stack = Stack.of(self)
            children = [self.state_machines[c] for c in sorted(tw.child_workflows)]
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[c.state_machine_arn for c in children]
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["states:DescribeExecution", "states:StopExecution"],
                    resources=[
                        stack.format_arn(
                            service="states",
                            resource="execution",
                            resource_name=f"{c.state_machine_name}:*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                        for c in children
                    ],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[
                        stack.format_arn(service="events", resource="rule", resource_name=SYNC_EVENTS_RULE)
                    ],
                )
            )
        return role
