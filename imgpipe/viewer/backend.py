"""The viewer's one source of data: the Step Functions and S3 APIs, through boto3, as the CLI reads them.

The same class serves `imgpipe serve` (clients pointed at the local endpoint) and `imgpipe serve
--stack-name S` (clients with the user's credentials, the stack's state machines and buckets from its
CloudFormation outputs): only the endpoint and the credentials differ. It writes only when the page
asks it to (start, stop, upload a source image).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imgpipe.config import DeploymentConfig
from imgpipe.local import remote, results, runner
from imgpipe.local.contact_sheet import make_contact_sheet
from imgpipe.local.engine import TERMINAL, execution_history, existing_execution
from imgpipe.viewer import runs as state_runs
from imgpipe.viewer.graph import StateMachineGraph, state_machine_graph
from lambdas.conductor.bodies import MAX_JSON_DEPTH, json_depth
from lambdas.conductor.executions import MAX_EXECUTION_INPUT_BYTES
from lambdas.conductor.status import WORKFLOW_STATUS, json_or_text

EXECUTIONS_PER_MACHINE = 100  # one ListExecutions page per state machine (its maximum is 1000)
EXECUTIONS_SHOWN = 50  # rows of `/`, each read once (GetExecutionHistory) for its transitions
SEED_INPUT = Path(__file__).resolve().parents[1] / "samples" / "demo-input.json"  # seed 003's input
CACHED_EXECUTIONS = 256  # ended executions whose history and renditions are kept in memory
CACHED_TRANSITIONS = 10_000  # transition counts of ended executions (an int each)


class ViewerError(Exception):
    """What the page asked cannot be done; `status` is the HTTP status, `field` what to fix."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Stack:
    """Where the viewer reads: the stack outputs' names, or the local engine's."""

    region: str
    input_bucket: str | None
    output_bucket: str | None
    state_machine_arns: tuple[str, ...] | None = None  # None: every state machine at the endpoint
    label: str = "local"  # shown in the page header
    read_only: bool = False


@dataclass
class Workflow:
    name: str
    arn: str
    type: str
    source: str | None  # the Conductor file, relative to the project
    graph: StateMachineGraph
    example_input: dict[str, Any]


@dataclass
class ExecutionSummary:
    name: str
    arn: str
    workflow: str
    status: str
    start: datetime
    stop: datetime | None
    transitions: int | None

    @property
    def seconds(self) -> float:
        end = self.stop or datetime.now(tz=self.start.tzinfo or UTC)
        return max((end - self.start).total_seconds(), 0.0)


@dataclass
class ExecutionView:
    described: dict[str, Any]
    workflow: str
    events: list[dict[str, Any]]
    definition: dict[str, Any]
    graph: StateMachineGraph
    runs: list[state_runs.StateRun]
    failure: results.Failure | None = None
    renditions: list[runner.Rendition] = field(default_factory=list)
    contact_sheet: Path | None = None

    @property
    def status(self) -> str:
        return str(self.described["status"])

    @property
    def conductor_status(self) -> str:
        """The status as Conductor's UI names it (COMPLETED, TERMINATED, ...), for users of the seeds."""
        return WORKFLOW_STATUS.get(self.status, "RUNNING")

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    @property
    def input(self) -> Any:
        return json_or_text(self.described.get("input"))

    @property
    def output(self) -> Any:
        return json_or_text(self.described.get("output"))

    @property
    def transitions(self) -> int:
        return results.transitions(self.events)

    def nodes(self) -> dict[str, dict[str, Any]]:
        return state_runs.node_statuses(self.runs, self.graph.node_of)

    def failing_node(self) -> str | None:
        failed = state_runs.failing_run(self.runs)
        return self.graph.node_of.get(failed.state) if failed else None


class ViewerBackend:
    """Reads workflows, executions, histories and renditions; starts and stops executions."""

    def __init__(self, sfn: Any, s3: Any, stack: Stack, config: DeploymentConfig | None = None) -> None:
        self.sfn = sfn
        self.s3 = s3
        self.stack = stack
        self.config = config or DeploymentConfig.from_cdk_json()
        self._lock = threading.Lock()
        self._collecting = threading.Lock()
        self._ended: OrderedDict[str, ExecutionView] = OrderedDict()
        self._transitions: OrderedDict[str, int] = OrderedDict()
        self._running_graphs: OrderedDict[str, tuple[dict[str, Any], StateMachineGraph]] = OrderedDict()
        self._downloads = tempfile.TemporaryDirectory(prefix="imgpipe-viewer-")
        self._sources = _conductor_sources()

    # --- construction -----------------------------------------------------------------------------
    @classmethod
    def for_endpoint(cls, endpoint_url: str, stack: Stack, config: DeploymentConfig | None = None) -> Any:
        """Clients of a Step Functions + S3 endpoint that accepts any credentials (`imgpipe serve`)."""
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="imgpipe-local",
            aws_secret_access_key="imgpipe-local",  # noqa: S106 - the local endpoint checks none
            region_name=stack.region,
        )
        return cls(
            session.client("stepfunctions", endpoint_url=endpoint_url),
            session.client("s3", endpoint_url=endpoint_url),
            stack,
            config,
        )

    @classmethod
    def for_stack(
        cls,
        stack_name: str,
        *,
        region: str | None,
        endpoint_url: str | None = None,
        read_only: bool = False,
        config: DeploymentConfig | None = None,
    ) -> Any:
        """A deployed stack read with the user's credentials (the default boto3 chain): its state
        machines and buckets from its CloudFormation outputs."""
        import boto3

        session = boto3.session.Session(region_name=region)
        outputs = remote.stack_outputs(
            session.client("cloudformation", endpoint_url=endpoint_url), stack_name
        )
        arns = tuple(
            value for key, value in sorted(outputs.items()) if remote.STATE_MACHINE_ARN.match(value or "")
        )
        stack = Stack(
            region=session.region_name or "us-east-1",
            input_bucket=outputs.get("InputBucketName"),
            output_bucket=outputs.get("OutputBucketName"),
            state_machine_arns=arns,
            label=f"stack {stack_name}",
            read_only=read_only,
        )
        return cls(
            session.client("stepfunctions", endpoint_url=endpoint_url),
            session.client("s3", endpoint_url=endpoint_url),
            stack,
            config,
        )

    def close(self) -> None:
        self._downloads.cleanup()

    # --- workflows --------------------------------------------------------------------------------
    def state_machine_arns(self) -> list[str]:
        if self.stack.state_machine_arns is not None:
            return list(self.stack.state_machine_arns)
        arns: list[str] = []
        for page in self.sfn.get_paginator("list_state_machines").paginate():
            arns.extend(machine["stateMachineArn"] for machine in page["stateMachines"])
        return arns

    def workflow_name(self, state_machine_arn: str) -> str:
        return remote.workflow_of(state_machine_arn, self.config) or state_machine_arn.rsplit(":", 1)[-1]

    def workflows(self) -> list[Workflow]:
        found = []
        for arn in self.state_machine_arns():
            described = self.sfn.describe_state_machine(stateMachineArn=arn)
            name = self.workflow_name(arn)
            found.append(
                Workflow(
                    name=name,
                    arn=arn,
                    type=str(described.get("type", "STANDARD")),
                    source=self._sources.get(name),
                    graph=state_machine_graph(json.loads(described["definition"])),
                    example_input=self.example_input(name),
                )
            )
        return sorted(found, key=lambda workflow: workflow.name)

    def example_input(self, workflow: str) -> dict[str, Any]:
        """Seed 003's formats and sizes (imgpipe/samples/demo-input.json) in the input shape of the
        workflow (`imgpipe start --image`'s), one rendition for the single-rendition seeds' shape."""
        seed = json.loads(SEED_INPUT.read_text(encoding="utf-8"))
        formats, sizes = list(seed["outputFormats"]), list(seed["outputSizes"])
        if workflow in (remote.SINGLE_RENDITION_RECIPE, remote.FLAT_RECIPE):
            formats, sizes = formats[:1], sizes[:1]
        elif workflow == remote.FIXED_RENDITIONS:
            formats, sizes = [], []
        location = f"s3://{self.stack.input_bucket or '<input-bucket>'}/{self.config.inputPrefix}photo.jpg"
        try:
            return remote.build_input(
                workflow,
                file_location=location,
                formats=formats or None,
                sizes=sizes or None,
                keep_aspect=bool(seed.get("maintainAspectRatio", True)),
                config=self.config,
            )
        except runner.UsageError:
            return {"fileLocation": location}

    # --- executions -------------------------------------------------------------------------------
    def executions(
        self, workflow: str | None = None, status: str | None = None
    ) -> tuple[list[ExecutionSummary], list[str]]:
        """Newest first, at most EXECUTIONS_PER_MACHINE per state machine; and, for each state machine
        whose executions cannot be listed, why (on AWS, ListExecutions refuses Express state
        machines: https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html)."""
        from botocore.exceptions import ClientError

        found: list[ExecutionSummary] = []
        unlisted: list[str] = []
        for arn in self.state_machine_arns():
            name = self.workflow_name(arn)
            if workflow and name != workflow:
                continue
            parameters: dict[str, Any] = {"stateMachineArn": arn, "maxResults": EXECUTIONS_PER_MACHINE}
            if status:
                parameters["statusFilter"] = status
            try:
                listed = self.sfn.list_executions(**parameters)["executions"]
            except ClientError as error:
                unlisted.append(f"{name}: {error.response.get('Error', {}).get('Message', error)}")
                continue
            found.extend(
                ExecutionSummary(
                    name=item["name"],
                    arn=item["executionArn"],
                    workflow=name,
                    status=item["status"],
                    start=item["startDate"],
                    stop=item.get("stopDate"),
                    transitions=None,
                )
                for item in listed
            )
        found.sort(key=lambda e: (e.start, e.arn), reverse=True)
        shown = found[:EXECUTIONS_SHOWN]
        for summary in shown:
            with self._lock:
                counted = self._transitions.get(summary.arn)
            if counted is None:
                counted = results.transitions(execution_history(self.sfn, summary.arn))
                if summary.status in TERMINAL:  # an ended history no longer changes
                    with self._lock:
                        self._transitions[summary.arn] = counted
                        while len(self._transitions) > CACHED_TRANSITIONS:
                            self._transitions.popitem(last=False)
            summary.transitions = counted
        if len(found) > len(shown):
            unlisted.append(f"{len(found) - len(shown)} older executions (filter by workflow or status)")
        return shown, unlisted

    def resolve(self, name_or_arn: str) -> str:
        """An execution ARN from an ARN (as given: `execution` checks it exists) or an execution name
        (the Conductor UI's `/execution/<id>`), looked up under each state machine."""
        if remote.EXECUTION_ARN.match(name_or_arn):
            return name_or_arn
        if not re.fullmatch(r"[\w.-]{1,80}", name_or_arn):
            raise ViewerError(
                400, f"{name_or_arn[:100]!r} is neither an execution ARN nor a name", "execution"
            )
        candidates = [
            arn.replace(":stateMachine:", ":execution:", 1) + f":{name_or_arn}"
            for arn in self.state_machine_arns()
        ]
        found = existing_execution(self.sfn, candidates)
        if found is not None:
            return found
        raise ViewerError(404, f"no execution {name_or_arn[:200]!r} at this endpoint", "execution")

    def execution(self, arn: str) -> ExecutionView:
        """Everything the page shows about one execution; kept once it has ended."""
        with self._lock:
            if arn in self._ended:
                self._ended.move_to_end(arn)
                return self._ended[arn]
        try:
            described = self.sfn.describe_execution(executionArn=arn)
        except self.sfn.exceptions.ExecutionDoesNotExist as error:
            raise ViewerError(404, f"no execution {arn[:200]!r} at this endpoint", "execution") from error
        events = execution_history(self.sfn, arn)
        definition, graph = self._graph(described)
        view = ExecutionView(
            described=described,
            workflow=self.workflow_name(str(described["stateMachineArn"])),
            events=events,
            definition=definition,
            graph=graph,
            runs=state_runs.state_runs(events, str(described["status"])),
        )
        state_runs.fail_state_details(view.runs, definition)
        if view.ended and described["status"] != "SUCCEEDED":
            histories = runner.collect_histories(self.sfn, arn)
            view.failure = runner.deepest_failure(self.sfn, histories, arn)
        if view.ended:
            with self._collecting:  # two requests for a just-ended execution download it once
                with self._lock:
                    if arn in self._ended:
                        return self._ended[arn]
                self._collect_renditions(view, arn)
                with self._lock:
                    self._ended[arn] = view
                    while len(self._ended) > CACHED_EXECUTIONS:
                        self._ended.popitem(last=False)
        return view

    def _graph(self, described: dict[str, Any]) -> tuple[dict[str, Any], StateMachineGraph]:
        """The ASL the execution ran (DescribeStateMachineForExecution: the state machine may have
        been updated since it started) and its graph, read once per execution while it runs."""
        arn = str(described["executionArn"])
        with self._lock:
            known = self._running_graphs.get(arn)
        if known is not None:
            return known
        text = self.sfn.describe_state_machine_for_execution(executionArn=arn)["definition"]
        parsed = json_or_text(text)
        definition = parsed if isinstance(parsed, dict) else {}
        drawn = (definition, state_machine_graph(definition))
        with self._lock:
            self._running_graphs[arn] = drawn
            while len(self._running_graphs) > CACHED_EXECUTIONS:
                self._running_graphs.popitem(last=False)
        return drawn

    def _collect_renditions(self, view: ExecutionView, arn: str) -> None:
        """Download what the execution published (as `imgpipe run` does) and make its contact sheet."""
        if self.stack.output_bucket is None:
            return
        histories = runner.collect_histories(self.sfn, arn)
        objects = runner.published_objects(histories, self.stack.output_bucket)
        if not objects:
            return
        directory = Path(self._downloads.name) / hashlib.sha256(arn.encode()).hexdigest()[:20]
        view.renditions = runner.download_renditions(self.s3, objects, directory, self.config.outputPrefix)
        view.contact_sheet = make_contact_sheet(
            [Path(r.path) for r in view.renditions], directory / runner.CONTACT_SHEET
        )

    # --- writes, only when the page asks ----------------------------------------------------------
    def start(self, workflow: str, input_text: str, upload: tuple[str, bytes] | None) -> str:
        self._writable()
        arns = {self.workflow_name(arn): arn for arn in self.state_machine_arns()}
        if workflow not in arns:
            raise ViewerError(400, f"unknown workflow {workflow[:100]!r}", "workflow")
        workflow_input = parse_input(input_text)
        if upload is not None:
            filename, body = upload
            if self.stack.input_bucket is None:
                raise ViewerError(400, "this stack has no input bucket to upload the image to", "image")
            if len(body) > self.config.maxSourceBytes:
                raise ViewerError(
                    413, f"the image is over maxSourceBytes ({self.config.maxSourceBytes} bytes)", "image"
                )
            key = upload_key(filename, body)
            self.s3.put_object(Bucket=self.stack.input_bucket, Key=key, Body=body)
            workflow_input["fileLocation"] = f"s3://{self.stack.input_bucket}/{key}"
        started: str = self.sfn.start_execution(
            stateMachineArn=arns[workflow], input=json.dumps(workflow_input)
        )["executionArn"]
        return started

    def stop(self, arn: str) -> None:
        self._writable()
        status = self.sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            raise ViewerError(409, f"the execution is {status}, not RUNNING", "execution")
        self.sfn.stop_execution(executionArn=arn, error="StoppedFromViewer", cause="stopped from the viewer")

    def _writable(self) -> None:
        if self.stack.read_only:
            raise ViewerError(403, "this viewer is read-only (imgpipe serve --read-only)")


def parse_input(text: str) -> dict[str, Any]:
    """The workflow input the form gives: a JSON object within Step Functions' input quota."""
    if len(text.encode()) > MAX_EXECUTION_INPUT_BYTES:
        raise ViewerError(413, f"the input is over {MAX_EXECUTION_INPUT_BYTES} bytes", "input")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ViewerError(400, f"the input nests deeper than {MAX_JSON_DEPTH} levels", "input")
    try:
        value = json.loads(text or "{}")
    except ValueError as error:
        raise ViewerError(400, f"not JSON: {error}", "input") from error
    if not isinstance(value, dict):
        raise ViewerError(400, "the workflow input must be a JSON object", "input")
    return value


def upload_key(filename: str, body: bytes) -> str:
    """Where an uploaded image goes: content-addressed under `imgpipe run`'s upload prefix, outside
    the trigger's input prefix (a page upload never starts the trigger workflow as well)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "image"
    digest = hashlib.sha256(body).hexdigest()[:16]
    return f"{runner.LOCAL_UPLOAD_PREFIX}{digest}/{name[:200]}"


def _conductor_sources() -> dict[str, str]:
    """Workflow name -> its Conductor file, relative to the project (when this checkout has one)."""
    from statemachines.project import load_project

    root = Path(__file__).resolve().parents[2]
    try:
        files = load_project().files
    except Exception:  # a broken definition must not take the viewer down: no sources shown
        return {}
    shown = {}
    for name, path in files.items():
        try:
            shown[name] = str(Path(path).resolve().relative_to(root))
        except ValueError:
            shown[name] = str(path)
    return shown
