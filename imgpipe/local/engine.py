"""An in-process AWS for imgpipe: the stack's buckets, functions, state machines and upload trigger.

Everything runs on moto: S3 and EventBridge as APIs, Step Functions with moto's ASL interpreter
(``execute_state_machine``), Lambda tasks routed by ``lambda_seam`` to the project's handlers, each
function in worker processes of its own (``lambda_environments``) with the environment
``imgpipe.config.function_environment`` gives the deployed functions. The workers reach this
process's moto S3 over HTTP: a moto server on loopback (``ThreadedMotoServer``, moto's public
server mode) serves the same in-process backends, and ``AWS_ENDPOINT_URL`` in each function's
environment points the workers' boto3 at it. The state
machines are the translator's ASL with the same placeholders CDK substitutes, so what runs here is
what ``cdk deploy`` ships.

Usage::

    with LocalAws(time_scale=0.0) as aws:
        arn = aws.start_execution("image_convert_resize", {...})
        described = aws.wait(arn)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from imgpipe import envelope, trigger
from imgpipe.config import (
    ON_DEMAND_WORKER_TASKS,
    SYSTEM_TASK_TIMEOUT_SECONDS,
    WORKER_TASKS,
    DeploymentConfig,
    function_environment,
    function_timeout_seconds,
)
from imgpipe.local import (
    activity_seam,
    distributed_map_seam,
    eventbridge_seam,
    http_seam,
    lambda_api_seam,
    lambda_environments,
    lambda_seam,
    moto_fixes,
    s3_event_seam,
    sfn_api_fixes,
)
from infra.concurrency import plan_reserved_concurrency, reservation_hints

DEFAULT_REGION = lambda_seam.DEFAULT_REGION
ACCOUNT = lambda_seam.DEFAULT_ACCOUNT
STATES_ROLE = f"arn:aws:iam::{ACCOUNT}:role/imgpipe-local-states"
EVENTS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/imgpipe-local-events"
TRIGGER_RULE = "upload-trigger"
TASK_DEFINITIONS = Path(__file__).resolve().parents[2] / "statemachines" / "conductor" / "tasks"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# The deployed functions' runtime and architecture (infra/bundling.py's LAMBDA_PLATFORM; a test
# checks they agree), shown by the local Lambda API.
LAMBDA_RUNTIME = "python3.13"
LAMBDA_ARCHITECTURE = "arm64"
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}

# A handler string runs in worker processes; a callable (tests' stub workers) in this process.
Handler = lambda_seam.Handler | str
LOOPBACK = "127.0.0.1"
HistoryListener = Callable[[list[dict[str, Any]]], None]


class EngineError(RuntimeError):
    """The local runtime cannot do what was asked; the message says what and why."""


class UnknownWorkflowError(EngineError):
    """No state machine of that name in the local runtime."""


@dataclass
class TriggerDelivery:
    """One S3 event that reached the trigger rule, and what became of it."""

    event: dict[str, Any]
    matched: bool
    execution_arn: str | None = None
    error: str | None = None


@dataclass
class Deployment:
    """Names and ARNs of what the engine created, as the stack outputs would list them."""

    input_bucket: str
    output_bucket: str
    function_arns: dict[str, str] = field(default_factory=dict)
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    activity_arns: dict[str, str] = field(default_factory=dict)


def local_queue_name(prefix: str, queue: str) -> str:
    """`<prefix>-<queue>-local`, cut to SQS's 80 characters
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html)
    with a digest of the whole name, so two long names sharing their start stay two queues."""
    from statemachines.translator.event import SQS_QUEUE_NAME_MAX

    name = f"{prefix}-{queue}-local"
    if len(name) <= SQS_QUEUE_NAME_MAX:
        return name
    digest = hashlib.sha256(queue.encode()).hexdigest()[:12]
    room = SQS_QUEUE_NAME_MAX - len(f"{prefix}--{digest}-local")
    return f"{prefix}-{queue[:room]}-{digest}-local"


def local_bucket_names(config: DeploymentConfig) -> tuple[str, str]:
    """The input and output bucket names of the local engine (``imgpipe run`` and ``imgpipe serve``)."""
    return f"{config.prefix}-input-local", f"{config.prefix}-output-local"


def default_handler(task_name: str) -> str:
    """The deployed handler string of a task (as infra/workers.py sets it)."""
    return f"lambdas.{task_name}.handler.handler"


def local_environments() -> int:
    """Worker processes per function at most: one per core (the Map's items run in parallel on all
    of them); Lambda's reserved concurrency, when lower, bounds it too."""
    return max(2, os.cpu_count() or 2)


def lambda_timeout_seconds(task_name: str, definitions_dir: Path = TASK_DEFINITIONS) -> int:
    """The function timeout CDK gives a worker (``imgpipe.config.function_timeout_seconds``)."""
    path = definitions_dir / f"{task_name}.json"
    seconds = SYSTEM_TASK_TIMEOUT_SECONDS.get(task_name)
    if path.is_file():
        value = json.loads(path.read_text()).get("timeoutSeconds")
        seconds = value if isinstance(value, int) and value > 0 else None
    return function_timeout_seconds(seconds)


def creation_order(workflows: Mapping[str, Any]) -> list[str]:
    """Workflow names with every child before its parents (state machine ARNs must exist first)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise EngineError(f"workflow {name!r}: sub-workflows form a cycle")
        if name not in workflows:
            raise UnknownWorkflowError(f"sub-workflow {name!r} is not one of the project's workflows")
        visiting.add(name)
        for child in sorted(workflows[name].workflow_dependencies):
            visit(child)
        visiting.discard(name)
        ordered.append(name)

    for workflow_name in sorted(workflows):
        visit(workflow_name)
    return ordered


def _translated_project(config: DeploymentConfig) -> dict[str, Any]:
    return envelope.translate_for_deployment(config)


def _substitute(asl_json: str, values: Mapping[str, str]) -> str:
    from statemachines.project import substitute

    return substitute(asl_json, dict(values))


class LocalAws:
    """The deployed stack, emulated in this process (a context manager; one per process at a time)."""

    def __init__(
        self,
        config: DeploymentConfig | None = None,
        *,
        time_scale: float = 1.0,
        workflows: Mapping[str, Any] | None = None,
        handler_for: Callable[[str], Handler] = default_handler,
        region: str = DEFAULT_REGION,
        max_environments: int | None = None,
        files_root: Path | None = None,
        extra_environment: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """`files_root`: the directory the workers may read local paths under (None: no local paths,
        as on Lambda; `imgpipe run` passes `/`, `imgpipe serve --files-root DIR` that directory).
        `handler_for`: the handler string of a task; `extra_environment`: variables added to a task's
        function environment (tests wrap a handler in a fault injector that these configure);
        `max_environments`: worker processes per function at most (default: `local_environments()`)."""
        self.config = config or DeploymentConfig.from_cdk_json()
        self.files_root = files_root
        self.time_scale = time_scale
        self.region = region
        self._workflows: dict[str, Any] | None = dict(workflows) if workflows is not None else None
        self._handler_for = handler_for
        self._extra_environment = {task: dict(env) for task, env in (extra_environment or {}).items()}
        self.max_environments = max_environments or local_environments()
        self.router = lambda_seam.LambdaRouter()
        self.worker_endpoint: str | None = None
        self.deployment = Deployment(
            input_bucket=local_bucket_names(self.config)[0],
            output_bucket=local_bucket_names(self.config)[1],
        )
        self.trigger_deliveries: list[TriggerDelivery] = []
        self.claim_table: str | None = None
        self.failed_sources_queue_url: str | None = None
        self.event_queue_urls: dict[str, str] = {}  # EVENT `sqs:<queue>` sinks, by queue name
        self._sequencer = itertools.count(1)
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> LocalAws:
        stack = ExitStack()
        try:
            stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
            stack.enter_context(lambda_seam.install(self.router, time_scale=self.time_scale))
            stack.enter_context(s3_event_seam.install(self._on_object_created))
            stack.enter_context(moto_fixes.install())
            stack.enter_context(distributed_map_seam.install())
            stack.enter_context(activity_seam.install())
            stack.enter_context(sfn_api_fixes.install())
            stack.enter_context(eventbridge_seam.install(self.deliver_event))
            stack.enter_context(lambda_api_seam.install(self.router))
            stack.enter_context(http_seam.install())
            stack.callback(self.router.close)
            self.worker_endpoint = self._start_worker_endpoint(stack)
            self._stack = stack
            self._create_buckets()
            workflows = self._workflows if self._workflows is not None else _translated_project(self.config)
            self._workflows = dict(workflows)
            self._register_functions((*WORKER_TASKS, *self._on_demand(self._workflows.values())))
            for name in creation_order(self._workflows):
                self._create_state_machine(name)
            self._create_backfill_state_machine()
            self._create_trigger_rule()
        except BaseException:
            stack.close()
            self._stack = None
            raise
        return self

    @staticmethod
    def _start_worker_endpoint(stack: ExitStack) -> str:
        """moto's server on a free loopback port: how the worker processes reach this process's S3."""
        lambda_environments.prepare()
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        stack.callback(server.stop)
        host, port = server.get_host_and_port()
        return f"http://{host}:{port}"

    def __exit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    # --- clients --------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client of the emulated account (valid only inside the context)."""
        if self._stack is None:
            raise EngineError("LocalAws is not running: use it as a context manager")
        return boto3.client(service, region_name=self.region)  # type: ignore[call-overload]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    # --- the stack ------------------------------------------------------------------------------
    def _create_buckets(self) -> None:
        s3 = self.s3
        for bucket in (self.deployment.input_bucket, self.deployment.output_bucket):
            s3.create_bucket(Bucket=bucket)
            s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        # Versioned as in the stack (infra/storage.py): the trigger names the version it announces.
        s3.put_bucket_versioning(
            Bucket=self.deployment.input_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        # Only the input bucket announces its objects: renditions can never re-trigger.
        s3.put_bucket_notification_configuration(
            Bucket=self.deployment.input_bucket,
            NotificationConfiguration={"EventBridgeConfiguration": {}},
        )

    @staticmethod
    def _on_demand(workflows: Iterable[Any]) -> list[str]:
        """The on-demand workers (the JavaScript evaluator) these workflows invoke: the stack deploys
        them only then (infra/javascript_evaluator.py), and so does this runtime."""
        used = {task for tw in workflows for task in tw.lambda_tasks}
        return [task for task in ON_DEMAND_WORKER_TASKS if task in used]

    def _register_functions(self, tasks: Iterable[str]) -> None:
        assert self._workflows is not None
        reserved = plan_reserved_concurrency(
            reservation_hints(self._workflows), self.config.lambdaConcurrency
        ).reserved
        for task in (t for t in tasks if t not in self.deployment.function_arns):
            name = self.config.function_name(task)
            environment = function_environment(
                task,
                self.config,
                output_bucket=self.deployment.output_bucket,
                local_files_root=str(self.files_root.resolve()) if self.files_root else "",
            )
            deployed_environment = dict(environment)  # what the stack sets; the rest is local plumbing
            environment["AWS_ENDPOINT_URL"] = self.worker_endpoint or ""
            environment |= self._extra_environment.get(task, {})
            handler = self._handler_for(task)
            function = self.router.register(
                name,
                handler,
                # a callable (a test's stub) runs in this process and reads no environment of its own
                environment=environment if isinstance(handler, str) else None,
                timeout_seconds=lambda_timeout_seconds(task),
                memory_mb=self.config.memorySize.get(task, 128),
                region=self.region,
                account=ACCOUNT,
                max_environments=min(self.max_environments, reserved.get(task, self.max_environments)),
            )
            self.deployment.function_arns[task] = function.arn
            self._show_function(task, function, deployed_environment)

    def _show_function(
        self, task: str, function: lambda_seam.LambdaFunction, environment: Mapping[str, str]
    ) -> None:
        """The function as GetFunction/ListFunctions show it on AWS (infra/workers.py's settings).
        Invocations are the router's (lambda_api_seam); moto's Lambda only describes the function."""
        iam, role_name = self.client("iam"), f"{function.name}-role"
        try:
            role = iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
                Description=f"Runs the {task} worker",
            )["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:  # an earlier engine in the same outer mock
            role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        handler_module = Path(__file__).resolve().parents[2] / "lambdas" / task / "handler.py"
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.write(handler_module, f"lambdas/{task}/handler.py")
        functions = self.client("lambda")
        with contextlib.suppress(functions.exceptions.ResourceNotFoundException):
            functions.delete_function(FunctionName=function.name)  # likewise: this engine's settings
        functions.create_function(
            FunctionName=function.name,
            Runtime=LAMBDA_RUNTIME,
            Architectures=[LAMBDA_ARCHITECTURE],
            Role=role,
            Handler=f"lambdas.{task}.handler.handler",
            Code={"ZipFile": code.getvalue()},
            Description=f"imgpipe worker for the Conductor task {task}",
            Timeout=int(function.timeout_seconds),
            MemorySize=function.memory_mb,
            Environment={"Variables": dict(environment)},
            TracingConfig={"Mode": "Active"},
        )

    def _substitutions(self) -> dict[str, str]:
        values = {f"LambdaArn_{task}": arn for task, arn in self.deployment.function_arns.items()}
        values |= {f"StateMachineArn_{wf}": arn for wf, arn in self.deployment.state_machine_arns.items()}
        values |= {f"ActivityArn_{task}": arn for task, arn in self.deployment.activity_arns.items()}
        return values

    def _create_activities(self, tasks: frozenset[str]) -> None:
        """The activities of SIMPLE tasks no Lambda worker serves, named as infra/activities.py names them."""
        for task in sorted(tasks - set(self.deployment.activity_arns)):
            created = self.sfn.create_activity(name=self.config.activity_name(task))
            self.deployment.activity_arns[task] = created["activityArn"]

    def _create_claims(self) -> dict[str, str]:
        """The claim table and failed-sources queue of the trigger envelope, as infra/claims.py makes them."""
        if self.claim_table is None or self.failed_sources_queue_url is None:
            self.claim_table = f"{self.config.prefix}-trigger-claims-local"
            dynamodb = self.client("dynamodb")
            if self.claim_table in dynamodb.list_tables()["TableNames"]:
                # Left by an earlier engine inside the same outer moto mock: its claims (same
                # sequencers) would mark this engine's uploads as duplicates.
                dynamodb.delete_table(TableName=self.claim_table)
            dynamodb.create_table(
                TableName=self.claim_table,
                KeySchema=[{"AttributeName": envelope.CLAIM_KEY, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": envelope.CLAIM_KEY, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                SSESpecification={"Enabled": True},
            )
            dynamodb.update_time_to_live(
                TableName=self.claim_table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": envelope.TTL_ATTRIBUTE},
            )
            sqs = self.client("sqs")
            queue_name = f"{self.config.prefix}-failed-sources-local"
            for url in sqs.list_queues(QueueNamePrefix=queue_name).get("QueueUrls", []):
                if url.rsplit("/", 1)[-1] == queue_name:
                    sqs.delete_queue(QueueUrl=url)  # likewise, start with no failure records
            self.failed_sources_queue_url = sqs.create_queue(
                QueueName=queue_name, Attributes={"SqsManagedSseEnabled": "true"}
            )["QueueUrl"]
        return {
            envelope.CLAIM_TABLE_PLACEHOLDER: self.claim_table,
            envelope.FAILED_SOURCES_QUEUE_PLACEHOLDER: self.failed_sources_queue_url,
        }

    def _create_event_queues(self, asl: Mapping[str, Any]) -> dict[str, str]:
        """The queues of EVENT tasks' `sqs:<queue>` sinks, one per name, as infra/workflows.py makes
        them (SSE-SQS; named `<prefix>-<queue>-local` here, by CloudFormation on AWS)."""
        from statemachines.translator.event import queue_url_placeholder, sqs_sink_queues

        sqs = self.client("sqs")
        for queue in sqs_sink_queues(asl):
            if queue not in self.event_queue_urls:
                name = local_queue_name(self.config.prefix, queue)
                created = sqs.create_queue(QueueName=name, Attributes={"SqsManagedSseEnabled": "true"})
                self.event_queue_urls[queue] = created["QueueUrl"]
        return {queue_url_placeholder(queue): url for queue, url in self.event_queue_urls.items()}

    def _workflow_substitutions(self, translated: Any) -> dict[str, str]:
        """The placeholders of one workflow's ASL, creating what they name (activities, queues)."""
        self._create_activities(translated.activity_tasks)
        substitutions = self._substitutions() | self._create_event_queues(translated.asl)
        return substitutions | http_seam.connection_arns(
            translated.http_connections, self.config.prefix, ACCOUNT
        )

    def _create_state_machine(self, workflow_name: str) -> str:
        assert self._workflows is not None
        translated = self._workflows[workflow_name]
        substitutions = self._workflow_substitutions(translated)
        if workflow_name == self.config.triggerWorkflow:
            # Deployed exactly as infra/stack.py deploys it: inside the envelope (imgpipe.envelope).
            translated = envelope.for_deployment({workflow_name: translated}, self.config)[workflow_name]
            substitutions |= self._create_claims()
        definition = _substitute(translated.asl_json, substitutions)
        name = self.config.state_machine_name(workflow_name)
        machine_type = self.config.deployed_workflow_type(
            workflow_name, express_compatible=translated.express_compatible
        )
        arn: str = self.sfn.create_state_machine(
            name=name, definition=definition, roleArn=STATES_ROLE, type=machine_type
        )["stateMachineArn"]
        self.deployment.state_machine_arns[workflow_name] = arn
        return arn

    def _create_backfill_state_machine(self) -> str:
        """The backfill Distributed Map (statemachines/backfill.py), its report going to the output bucket."""
        from imgpipe.config import backfill_definition
        from statemachines.backfill import BACKFILL_WORKFLOW, REPORT_BUCKET_PLACEHOLDER

        values = self._substitutions() | {REPORT_BUCKET_PLACEHOLDER: self.deployment.output_bucket}
        definition = _substitute(backfill_definition(self.config).asl_json, values)
        arn: str = self.sfn.create_state_machine(
            name=self.config.state_machine_name(BACKFILL_WORKFLOW),
            definition=definition,
            roleArn=STATES_ROLE,
            type="STANDARD",
        )["stateMachineArn"]
        self.deployment.state_machine_arns[BACKFILL_WORKFLOW] = arn
        return arn

    def deploys(self, translated: Any) -> bool:
        """Whether a workflow of that name with that very ASL is already deployed (a project file)."""
        existing = (self._workflows or {}).get(translated.name)
        return existing is not None and existing.asl == translated.asl

    def add_workflow(self, translated: Any) -> str:
        """Create a state machine for a workflow translated on the fly (its children must exist)."""
        if self._workflows is None:
            raise EngineError("LocalAws is not running: use it as a context manager")
        missing = sorted(set(translated.workflow_dependencies) - set(self.deployment.state_machine_arns))
        if missing:
            raise UnknownWorkflowError(
                f"workflow {translated.name!r} starts sub-workflow(s) {', '.join(missing)}, "
                "which are not among the project's workflows"
            )
        if translated.name in self.deployment.state_machine_arns:
            raise EngineError(
                f"workflow {translated.name!r} has the name of a project workflow: rename it to run it"
            )
        self._register_functions(self._on_demand([translated]))
        self._workflows[translated.name] = translated
        return self._create_state_machine(translated.name)

    def update_workflow(self, translated: Any) -> str:
        """Replace a deployed workflow's ASL (UpdateStateMachine); running executions keep theirs."""
        if self._workflows is None:
            raise EngineError("LocalAws is not running: use it as a context manager")
        arn = self.deployment.state_machine_arns.get(translated.name)
        if arn is None:
            raise UnknownWorkflowError(f"workflow {translated.name!r} is not deployed: add it first")
        missing = sorted(set(translated.workflow_dependencies) - set(self.deployment.state_machine_arns))
        if missing:
            raise UnknownWorkflowError(
                f"workflow {translated.name!r} starts sub-workflow(s) {', '.join(missing)}, "
                "which are not deployed"
            )
        self._register_functions(self._on_demand([translated]))
        definition = _substitute(translated.asl_json, self._workflow_substitutions(translated))
        self.sfn.update_state_machine(stateMachineArn=arn, definition=definition)
        self._workflows[translated.name] = translated
        return arn

    def _create_trigger_rule(self) -> None:
        target_workflow = self.config.triggerWorkflow
        if target_workflow not in self.deployment.state_machine_arns:
            return  # the trigger workflow is not part of this project (yet): no rule, as in CDK
        events = self.client("events")
        pattern = trigger.event_pattern(self.config, self.deployment.input_bucket)
        trigger.check_pattern(pattern)  # what EventBridge would read differently is refused up front
        events.put_rule(
            Name=f"{self.config.prefix}-{TRIGGER_RULE}",
            EventPattern=json.dumps(pattern),
            State="ENABLED",
        )
        events.put_targets(
            Rule=f"{self.config.prefix}-{TRIGGER_RULE}",
            Targets=[
                {
                    "Id": "workflow",
                    "Arn": self.deployment.state_machine_arns[target_workflow],
                    "RoleArn": EVENTS_ROLE,
                    "InputTransformer": trigger.input_transformer(self.config),
                }
            ],
        )

    # --- the S3 trigger -------------------------------------------------------------------------
    def _on_object_created(self, created: s3_event_seam.CreatedObject) -> None:
        with self._lock:
            sequencer = f"{next(self._sequencer):016X}"
        event = trigger.object_created_event(
            bucket=created.bucket,
            key=created.key,
            size=created.size,
            etag=created.etag,
            sequencer=sequencer,
            version_id=created.version_id,
            region=created.region,
            account=created.account,
            reason=created.reason,
        )
        self.deliver_event(event)

    def deliver_event(self, event: dict[str, Any]) -> list[TriggerDelivery]:
        """Deliver one EventBridge event to the rules of the default bus, as EventBridge would.

        Public so a test can re-deliver the same event (EventBridge delivers at least once).
        """
        events = self.client("events")
        deliveries: list[TriggerDelivery] = []
        for rule in events.list_rules()["Rules"]:
            if rule.get("State") != "ENABLED" or "EventPattern" not in rule:
                continue
            # Refuses a pattern EventBridge would read differently, then matches as EventBridge does.
            if not trigger.matches(json.loads(rule["EventPattern"]), event):
                deliveries.append(TriggerDelivery(event, matched=False))
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                deliveries.append(self._start_target(target, event))
        with self._lock:
            self.trigger_deliveries.extend(deliveries)
        return deliveries

    def _start_target(self, target: Mapping[str, Any], event: dict[str, Any]) -> TriggerDelivery:
        delivery = TriggerDelivery(event, matched=True)
        if ":states:" not in target["Arn"]:
            delivery.error = f"target {target['Arn']} is not a state machine"
            return delivery
        transformer = target.get("InputTransformer")
        payload = trigger.apply_input_transformer(transformer, event) if transformer else json.dumps(event)
        try:
            # No name, as EventBridge's StartExecution: every delivery is a new execution, and the
            # envelope's claim (imgpipe.envelope) is what makes a duplicate end early.
            delivery.execution_arn = self.sfn.start_execution(stateMachineArn=target["Arn"], input=payload)[
                "executionArn"
            ]
        except Exception as error:  # the state machine is gone, throttling, ...
            delivery.error = f"{type(error).__name__}: {error}"
        return delivery

    # --- executions -----------------------------------------------------------------------------
    def state_machine_arn(self, workflow: str) -> str:
        """The ARN of a workflow by its Conductor name or its deployed state machine name."""
        arns = self.deployment.state_machine_arns
        if workflow in arns:
            return arns[workflow]
        for name, arn in arns.items():
            if self.config.state_machine_name(name) == workflow:
                return arn
        known = ", ".join(sorted(arns)) or "none"
        raise UnknownWorkflowError(f"unknown workflow {workflow!r} (known: {known})")

    def start_execution(self, workflow: str, workflow_input: Any, *, name: str | None = None) -> str:
        parameters: dict[str, Any] = {
            "stateMachineArn": self.state_machine_arn(workflow),
            "input": json.dumps(workflow_input),
        }
        if name:
            parameters["name"] = name
        arn: str = self.sfn.start_execution(**parameters)["executionArn"]
        return arn

    def upload_file(self, path: Path, key: str | None = None) -> str:
        """Put a local file into the input bucket (under the input prefix) and return its s3 URI."""
        object_key = key or f"{self.config.inputPrefix}{path.name}"
        self.s3.put_object(Bucket=self.deployment.input_bucket, Key=object_key, Body=path.read_bytes())
        return f"s3://{self.deployment.input_bucket}/{object_key}"

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return execution_history(self.sfn, execution_arn)

    def wait(
        self,
        execution_arn: str,
        *,
        on_events: HistoryListener | None = None,
        poll_seconds: float = 0.05,
        timeout_seconds: float | None = None,
    ) -> dict[str, Any]:
        return wait_for_execution(
            self.sfn,
            execution_arn,
            on_events=on_events,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of an execution, oldest first (follows pagination)."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        parameters: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            parameters["nextToken"] = token
        page = sfn.get_execution_history(**parameters)
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def existing_execution(sfn: Any, candidate_arns: Iterable[str]) -> str | None:
    """The first of these execution ARNs that exists at the endpoint (an execution known by name only
    is one of `<state machine>:<name>`)."""
    for arn in candidate_arns:
        try:
            sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            continue
        return arn
    return None


def iter_new_events(sfn: Any, execution_arn: str, seen: int) -> Iterator[dict[str, Any]]:
    yield from execution_history(sfn, execution_arn)[seen:]


def wait_for_execution(
    sfn: Any,
    execution_arn: str,
    *,
    on_events: HistoryListener | None = None,
    poll_seconds: float = 0.05,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """Poll an execution until it ends, passing new history events to ``on_events`` as they appear.

    Works against any Step Functions endpoint (local engine, ``imgpipe serve``, AWS).
    """
    seen = 0
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if on_events is not None:
            fresh = list(iter_new_events(sfn, execution_arn, seen))
            seen += len(fresh)
            if fresh:
                on_events(fresh)
        if described["status"] in TERMINAL:
            if on_events is not None:
                fresh = list(iter_new_events(sfn, execution_arn, seen))
                if fresh:
                    on_events(fresh)
            return described
        if deadline is not None and time.monotonic() > deadline:
            raise EngineError(f"execution {execution_arn} still {described['status']} after waiting")
        time.sleep(poll_seconds)
