"""What moto 5.2's Step Functions engine lacks of the Distributed Map, added while installed (moto internals).

moto parses and runs a Map with ``ProcessorConfig`` Mode DISTRIBUTED, an ``ItemReader``, ``MaxConcurrency``,
``ResultWriter``, and answers ListMapRuns/DescribeMapRun. Measured against moto 5.2.5, it lacks:

- ``ItemBatcher``: not in its ASL grammar (CreateStateMachine fails with ASLParserException). The seam takes
  the field out of each distributed Map before moto parses the definition (the stored definition is the
  original text) and groups the items as AWS does: ``{"Items": [...], "BatchInput": {...}}`` per child,
  at most ``MaxItemsPerBatch`` items and ``MaxInputBytesPerBatch`` bytes; ``BatchInput`` fields ending in
  ``.$`` are paths into the Map state's input (``$.``) or the context object (``$$.``).
- ``ExecutionType`` EXPRESS: its grammar accepts only STANDARD (the seam parses EXPRESS as STANDARD; moto
  runs children alike either way), and an integer ``ToleratedFailurePercentage`` (parsed as its float).
- ``ToleratedFailurePercentage``/``ToleratedFailureCount``: parsed, never enforced (a failed child is
  dropped and the Map Run succeeds). The seam fails the Map state with
  ``States.ExceedToleratedFailureThreshold`` when more items failed than tolerated (no field: none).
- ``ItemReader`` ``s3:listObjectsV2``: moto reads the first page only (1,000 keys) and hands boto3's
  shapes on. The seam reads every page and gives each object AWS's item shape
  (``Etag``, ``Key``, ``LastModified`` in epoch seconds, ``Size``, ``StorageClass``).
- ``ResultWriter``: moto writes a ``manifest.json`` whose ``ResultFiles`` are always empty. The seam
  also writes ``SUCCEEDED_0.json`` and ``FAILED_0.json`` (one entry per child execution, AWS's fields:
  ``Input``/``Output`` as JSON text, ``Error``/``Cause`` for a failed one) and lists them in the manifest.
- Counts: with batching, DescribeMapRun's ``itemCounts`` count items, ``executionCounts`` children (moto
  counts one item per child, and leaves a failed child counted as running).

Not emulated (refused loudly when a definition uses them): the ``*Path`` variants of the batcher and
tolerance fields, and the S3 Inventory ``MANIFEST`` reader (moto's grammar refuses ``InputType`` MANIFEST).

``verify_targets()`` fails loudly if moto moves what is patched; ``tests/local/test_distributed_map_seam.py``
runs a small Distributed Map with and without the seam, so it also fails when moto grows these itself.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from imgpipe.local.lambda_seam import MotoInternalsChanged, moto_attribute

_STATE_MAP = "moto.stepfunctions.parser.asl.component.state.exec.state_map"
PARSER_MODULE = "moto.stepfunctions.parser.asl.parse.asl_parser"
STATE_MAP_MODULE = f"{_STATE_MAP}.state_map"
DISTRIBUTED_ITERATION_MODULE = f"{_STATE_MAP}.iteration.distributed_iteration_component"
WORKER_MODULE = f"{_STATE_MAP}.iteration.itemprocessor.distributed_item_processor_worker"
ITEM_READER_MODULE = f"{_STATE_MAP}.item_reader.eval.resource_eval_s3"
RESULT_WRITER_MODULE = f"{_STATE_MAP}.result_writer.resource_eval.resource_eval_s3"
PROGRAM_STATE_MODULE = "moto.stepfunctions.parser.asl.eval.program_state"
FAILURE_EVENT_MODULE = "moto.stepfunctions.parser.asl.component.common.error_name.failure_event"
STATES_ERROR_NAME_MODULE = "moto.stepfunctions.parser.asl.component.common.error_name.states_error_name"
STATES_ERROR_TYPE_MODULE = "moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type"
API_MODULE = "moto.stepfunctions.parser.api"
EVENT_DETAIL_MODULE = "moto.stepfunctions.parser.asl.eval.event.event_detail"

# (module, attribute, methods it must have)
TARGETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (PARSER_MODULE, "AmazonStateLanguageParser", ("parse",)),
    (STATE_MAP_MODULE, "StateMap", ("from_state_props",)),
    (DISTRIBUTED_ITERATION_MODULE, "DistributedIterationComponent", ("_map_run",)),
    (WORKER_MODULE, "DistributedItemProcessorWorker", ("_eval_job",)),
    (ITEM_READER_MODULE, "ResourceEvalS3", ("_handle_list_objects_v2", "_get_s3_client")),
    (RESULT_WRITER_MODULE, "ResourceEvalS3", ("_handle_put_object", "_get_s3_client")),
    (PROGRAM_STATE_MODULE, "ProgramError", ()),
    (FAILURE_EVENT_MODULE, "FailureEvent", ()),
    (FAILURE_EVENT_MODULE, "FailureEventException", ()),
    (STATES_ERROR_NAME_MODULE, "StatesErrorName", ()),
    (STATES_ERROR_TYPE_MODULE, "StatesErrorNameType", ()),
    (API_MODULE, "HistoryEventType", ()),
    (API_MODULE, "ExecutionFailedEventDetails", ()),
    (EVENT_DETAIL_MODULE, "EventDetails", ()),
)
EXTRAS_ATTRIBUTE = "_imgpipe_distributed_extras"
RESULTS_ATTRIBUTE = "_imgpipe_child_results"
UNSUPPORTED_FIELDS = ("ToleratedFailureCountPath", "ToleratedFailurePercentagePath")
UNSUPPORTED_BATCHER_FIELDS = ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath")
# AWS's bound on one child's input (ItemBatcher docs: batches stay under 256 KiB).
MAX_BATCH_BYTES = 256 * 1024


class UnsupportedDistributedMapField(ValueError):
    """A Distributed Map field this seam does not emulate (the message names it)."""


def verify_targets() -> None:
    """Check that every moto class and method the seam patches or uses is where it expects it."""
    for module_name, attribute, methods in TARGETS:
        target = moto_attribute(module_name, attribute)
        for method in methods:
            if not callable(getattr(target, method, None)):
                raise MotoInternalsChanged(f"moto's {module_name}.{attribute} has no {method!r} any more")
    error_type = moto_attribute(STATES_ERROR_TYPE_MODULE, "StatesErrorNameType")
    if not hasattr(error_type, "StatesExceedToleratedFailureThreshold"):
        raise MotoInternalsChanged("moto's StatesErrorNameType lost StatesExceedToleratedFailureThreshold")


# --- parse: the fields moto's grammar lacks ------------------------------------------------------
@dataclass(frozen=True)
class DistributedExtras:
    """What the seam enforces for one distributed Map state."""

    state_name: str
    item_batcher: dict[str, Any] | None
    tolerated_failure_count: int | None
    tolerated_failure_percentage: float | None


def _is_distributed(state: dict[str, Any]) -> bool:
    processor = state.get("ItemProcessor") or {}
    return state.get("Type") == "Map" and processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"


def _strip(states: dict[str, Any], found: dict[str, DistributedExtras]) -> None:
    """Take ItemBatcher out of every distributed Map (in place), remembering it and the tolerance fields."""
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if _is_distributed(state):
            for unsupported in UNSUPPORTED_FIELDS:
                if unsupported in state:
                    raise UnsupportedDistributedMapField(
                        f"States.{name}.{unsupported} is not emulated locally"
                    )
            batcher = state.pop("ItemBatcher", None)
            config = state["ItemProcessor"]["ProcessorConfig"]
            if config.get("ExecutionType") == "EXPRESS":
                config["ExecutionType"] = "STANDARD"  # moto runs both alike; its grammar has only STANDARD
            if isinstance(state.get("ToleratedFailurePercentage"), int):
                state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
            for unsupported in UNSUPPORTED_BATCHER_FIELDS:
                if batcher and unsupported in batcher:
                    raise UnsupportedDistributedMapField(
                        f"States.{name}.ItemBatcher.{unsupported} is not emulated locally"
                    )
            extras = DistributedExtras(
                state_name=name,
                item_batcher=batcher,
                tolerated_failure_count=state.get("ToleratedFailureCount"),
                tolerated_failure_percentage=state.get("ToleratedFailurePercentage"),
            )
            if name in found and found[name] != extras:
                raise UnsupportedDistributedMapField(
                    f"two distributed Map states named {name!r} differ: not emulated locally"
                )
            found[name] = extras
        for nested in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(nested), dict):
                _strip(state[nested].get("States", {}), found)
        for branch in state.get("Branches", []) or []:
            _strip(branch.get("States", {}), found)


def _attach(states_component: Any, found: dict[str, DistributedExtras], state_map_class: type) -> None:
    """Hang each distributed Map's extras on its parsed iteration component (found by state name)."""
    for name, state in getattr(states_component, "states", {}).items():
        if not isinstance(state, state_map_class):
            continue
        iteration = getattr(state, "iteration_component", None)
        if iteration is None:
            raise MotoInternalsChanged("moto's StateMap has no iteration_component any more")
        if name in found:
            setattr(iteration, EXTRAS_ATTRIBUTE, found[name])
        inner = getattr(iteration, "_states", None)
        if inner is not None:
            _attach(inner, found, state_map_class)


def _parse(original: Any, state_map_class: type) -> Any:
    def parse(definition: str) -> Any:
        try:
            document = json.loads(definition)
        except ValueError:
            return original(definition)
        found: dict[str, DistributedExtras] = {}
        if isinstance(document, dict):
            _strip(document.get("States", {}), found)
        if not found:
            return original(definition)
        program, tree = original(json.dumps(document))
        states = getattr(program, "states", None)
        if states is None:
            raise MotoInternalsChanged("moto's parsed Program has no states any more")
        _attach(states, found, state_map_class)
        return program, tree

    return staticmethod(parse)


# --- run: batching, per-child results, tolerance -------------------------------------------------
@dataclass
class ChildResult:
    """One child execution of a Map Run, as the ResultWriter reports it."""

    index: int
    items: int
    status: str
    input: Any
    output: Any = None
    error: str | None = None
    cause: str | None = None
    started: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    stopped: datetime.datetime | None = None


@dataclass
class MapRunResults:
    batched: bool
    children: list[ChildResult] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, child: ChildResult) -> None:
        with self.lock:
            self.children.append(child)

    def failed_items(self) -> int:
        with self.lock:
            return sum(child.items for child in self.children if child.status != "SUCCEEDED")


def _path_value(path: str, env: Any, extract_json: Any) -> Any:
    if path.startswith("$$"):
        return extract_json("$" + path[2:], env.states.context_object.context_object_data)
    if path.startswith("$"):
        return extract_json(path, env.states.get_input())
    raise UnsupportedDistributedMapField(f"ItemBatcher.BatchInput path {path!r} is not a JSONPath")


def _batch_input(template: Any, env: Any, extract_json: Any) -> Any:
    if isinstance(template, dict):
        value: dict[str, Any] = {}
        for key, item in template.items():
            if key.endswith(".$") and isinstance(item, str):
                value[key[:-2]] = _path_value(item, env, extract_json)
            else:
                value[key] = _batch_input(item, env, extract_json)
        return value
    if isinstance(template, list):
        return [_batch_input(item, env, extract_json) for item in template]
    return template


def batches(items: list[Any], batcher: dict[str, Any], batch_input: Any) -> list[dict[str, Any]]:
    """Group items as ItemBatcher does: in order, at most MaxItemsPerBatch items and
    MaxInputBytesPerBatch bytes per batch."""
    max_items = int(batcher.get("MaxItemsPerBatch") or len(items) or 1)
    max_bytes = int(batcher.get("MaxInputBytesPerBatch") or MAX_BATCH_BYTES)
    grouped: list[dict[str, Any]] = []
    current: list[Any] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(item))
        if current and (len(current) >= max_items or size + item_size > max_bytes):
            grouped.append({"Items": current})
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        grouped.append({"Items": current})
    if batch_input is not None:
        for batch in grouped:
            batch["BatchInput"] = batch_input
    return grouped


def _map_run(original: Any, extract_json: Any) -> Any:
    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        extras: DistributedExtras | None = getattr(self, EXTRAS_ATTRIBUTE, None)
        items = env.stack.pop()
        record = eval_input.map_run_record
        batcher = extras.item_batcher if extras else None
        if batcher is not None:
            batch_input = _batch_input(batcher.get("BatchInput"), env, extract_json)
            children: list[Any] = batches(list(items), batcher, batch_input)
            # moto counts one item per child as it starts it; the rest of each batch is counted here.
            record.item_counter.total.count(len(items) - len(children))
        else:
            children = list(items)
        results = MapRunResults(batched=batcher is not None)
        setattr(record, RESULTS_ATTRIBUTE, results)
        env.stack.append(children)
        original(self, env, eval_input)
        _enforce_tolerance(env, extras, results, total_items=len(items))

    return map_run


def _tolerated(extras: DistributedExtras | None, failed: int, total: int) -> bool:
    """AWS: the Map Run fails when failed items exceed the count or the percentage (neither set: none)."""
    if failed == 0:
        return True
    count = extras.tolerated_failure_count if extras else None
    percentage = extras.tolerated_failure_percentage if extras else None
    if count is None and percentage is None:
        return False
    if count is not None and failed > count:
        return False
    return not (percentage is not None and total and failed * 100.0 / total > percentage)


def _enforce_tolerance(
    env: Any, extras: DistributedExtras | None, results: MapRunResults, total_items: int
) -> None:
    failed = results.failed_items()
    if _tolerated(extras, failed, total_items):
        return
    error_type = moto_attribute(
        STATES_ERROR_TYPE_MODULE, "StatesErrorNameType"
    ).StatesExceedToleratedFailureThreshold
    details = moto_attribute(API_MODULE, "ExecutionFailedEventDetails")(
        error=error_type.to_name(),
        cause=f"The tolerated failure threshold was exceeded: {failed} of {total_items} items failed",
    )
    failure_event = moto_attribute(FAILURE_EVENT_MODULE, "FailureEvent")(
        env=env,
        error_name=moto_attribute(STATES_ERROR_NAME_MODULE, "StatesErrorName")(typ=error_type),
        event_type=moto_attribute(API_MODULE, "HistoryEventType").ExecutionFailed,
        event_details=moto_attribute(EVENT_DETAIL_MODULE, "EventDetails")(
            executionFailedEventDetails=details
        ),
    )
    raise moto_attribute(FAILURE_EVENT_MODULE, "FailureEventException")(failure_event=failure_event)


def _eval_job(original: Any, program_error: type) -> Any:
    def eval_job(self: Any, env: Any, job: Any) -> None:
        record = self._map_run_record
        results: MapRunResults | None = getattr(record, RESULTS_ATTRIBUTE, None)
        child = ChildResult(index=job.job_index, items=1, status="FAILED", input=job.job_input)
        if results is not None and results.batched and isinstance(job.job_input, dict):
            child.items = max(1, len(job.job_input.get("Items", [])))
        original(self, env, job)
        child.stopped = datetime.datetime.now(datetime.UTC)
        state: Any = env.program_state()
        if isinstance(state, program_error):
            details: Any = getattr(state, "error", None) or {}
            child.error, child.cause = details.get("error"), details.get("cause")
        elif job.job_output is not None:
            child.status, child.output = "SUCCEEDED", job.job_output
        else:
            child.error = "States.Runtime"
        if results is None:
            return
        if child.status != "SUCCEEDED":
            record.execution_counter.running.offset(-1)  # moto leaves a failed child counted as running
        extra = child.items - 1
        if extra:
            counter = (
                record.item_counter.succeeded if child.status == "SUCCEEDED" else record.item_counter.failed
            )
            counter.count(extra)
            if child.status == "SUCCEEDED":
                record.item_counter.results_written.count(extra)
        results.add(child)

    return eval_job


# --- the ItemReader and the ResultWriter ---------------------------------------------------------
def _list_objects_v2(get_client: Any) -> Any:
    def handle(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        client = get_client(resource_runtime_part=resource_runtime_part, state_credentials=state_credentials)
        parameters = env.stack.pop()
        items: list[dict[str, Any]] = []
        for page in client.get_paginator("list_objects_v2").paginate(**parameters):
            for listed in page.get("Contents", []):
                items.append(
                    {
                        "Etag": listed["ETag"],
                        "Key": listed["Key"],
                        "LastModified": int(listed["LastModified"].timestamp()),
                        "Size": listed["Size"],
                        "StorageClass": listed.get("StorageClass", "STANDARD"),
                    }
                )
        env.stack.append(items)

    return staticmethod(handle)


def _iso(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def result_entry(child: ChildResult, map_run_arn: str, state_machine_arn: str) -> dict[str, Any]:
    """One child execution in a ResultWriter file (Transformation NONE: AWS's fields and casing)."""
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{map_run_arn}/{child.index}"))
    entry: dict[str, Any] = {
        "ExecutionArn": f"{map_run_arn.replace(':mapRun:', ':express:', 1)}:{name}",
        "Input": json.dumps(child.input, separators=(",", ":")),
        "InputDetails": {"Included": True},
        "Name": name,
        "StartDate": _iso(child.started),
        "StateMachineArn": state_machine_arn,
        "Status": child.status,
        "StopDate": _iso(child.stopped),
    }
    if child.status == "SUCCEEDED":
        entry["Output"] = json.dumps(child.output, separators=(",", ":"))
        entry["OutputDetails"] = {"Included": True}
    else:
        entry["Error"] = child.error
        entry["Cause"] = child.cause
    return entry


def _put_results(get_client: Any) -> Any:
    def handle(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = env.stack.pop()
        env.stack.pop()  # the children's outputs: the files are written from the recorded results
        client = get_client(resource_runtime_part=resource_runtime_part, state_credentials=state_credentials)
        record = env.map_run_record_pool_manager.get_all()[-1]
        results: MapRunResults = getattr(record, RESULTS_ATTRIBUTE, None) or MapRunResults(batched=False)
        prefix = parameters.get("Prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        base = f"{prefix}{record.map_run_arn.split(':')[-1]}/"
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status in ("SUCCEEDED", "FAILED"):
            entries = [
                result_entry(child, record.map_run_arn, record.map_state_machine_arn)
                for child in sorted(results.children, key=lambda c: c.index)
                if (child.status == "SUCCEEDED") == (status == "SUCCEEDED")
            ]
            if not entries:
                continue
            body = json.dumps(entries).encode()
            key = f"{base}{status}_0.json"
            client.put_object(Bucket=parameters["Bucket"], Key=key, Body=body)
            files[status].append({"Key": key, "Size": len(body)})
        manifest = {
            "DestinationBucket": parameters["Bucket"],
            "MapRunArn": record.map_run_arn,
            "ResultFiles": files,
        }
        key = f"{base}manifest.json"
        client.put_object(Bucket=parameters["Bucket"], Key=key, Body=json.dumps(manifest, indent=2).encode())
        env.stack.append(
            {
                "MapRunArn": record.map_run_arn,
                "ResultWriterDetails": {"Bucket": parameters["Bucket"], "Key": key},
            }
        )

    return staticmethod(handle)


@contextmanager
def install() -> Iterator[None]:
    """Give moto's Distributed Map ItemBatcher, tolerance, a paginated reader and real result files."""
    verify_targets()
    from moto.stepfunctions.parser.asl.utils.json_path import extract_json

    parser = moto_attribute(PARSER_MODULE, "AmazonStateLanguageParser")
    state_map = moto_attribute(STATE_MAP_MODULE, "StateMap")
    iteration = moto_attribute(DISTRIBUTED_ITERATION_MODULE, "DistributedIterationComponent")
    worker = moto_attribute(WORKER_MODULE, "DistributedItemProcessorWorker")
    reader = moto_attribute(ITEM_READER_MODULE, "ResourceEvalS3")
    writer = moto_attribute(RESULT_WRITER_MODULE, "ResourceEvalS3")
    program_error = moto_attribute(PROGRAM_STATE_MODULE, "ProgramError")
    with ExitStack() as stack:
        patch = stack.enter_context
        patch(mock.patch.object(parser, "parse", _parse(parser.parse, state_map)))
        patch(mock.patch.object(iteration, "_map_run", _map_run(iteration._map_run, extract_json)))
        patch(mock.patch.object(worker, "_eval_job", _eval_job(worker._eval_job, program_error)))
        patch(mock.patch.object(reader, "_handle_list_objects_v2", _list_objects_v2(reader._get_s3_client)))
        patch(mock.patch.object(writer, "_handle_put_object", _put_results(writer._get_s3_client)))
        yield
