"""`imgpipe backfill`: render every image under a bucket prefix on the deployed Distributed Map.

Starts the backfill state machine (`statemachines/backfill.py`) with `{"bucket", "prefix", "recipe"}`,
shows the Map Run's progress from ListMapRuns/DescribeMapRun (items done and failed, rate, ETA), then
reads the ResultWriter's manifest and its SUCCEEDED/FAILED files and prints a summary and every failed
source with its error (or, with `--json`, one object). The same against AWS (`--stack-name`) and
`imgpipe serve` (`--endpoint-url`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from imgpipe.commands import endpoint
from imgpipe.commands.endpoint import add_endpoint_arguments
from imgpipe.local.runner import UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
AWS_POLL_SECONDS = 2.0  # DescribeMapRun and DescribeExecution are throttled on AWS
LOCAL_POLL_SECONDS = 0.2
BATCH_FAILED_ERROR = "BackfillSourcesFailed"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backfill",
        help="render every image under a bucket prefix on the deployed Distributed Map",
        description="Render every image under --prefix of --bucket with the backfill state machine; "
        "sources whose renditions already exist are skipped.",
    )
    parser.add_argument("--bucket", help="the bucket to render (default: the stack's input bucket)")
    parser.add_argument("--prefix", required=True, help="key prefix to render, e.g. uploads/2024/")
    parser.add_argument(
        "--workflow", default="backfill", help="the deployed backfill workflow (default: backfill)"
    )
    parser.add_argument(
        "--recipe", help="recipe JSON or @file.json (default: cdk.json's imgpipe:defaultRecipe)"
    )
    parser.add_argument(
        "--manifest", help="with the inventory reader: s3://bucket/key of the S3 Inventory manifest.json"
    )
    parser.add_argument("--name", help="execution name (default: generated)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack-name", help="the deployed stack (state machine and buckets from its outputs)")
    add_endpoint_arguments(parser, where)
    parser.add_argument("--json", action="store_true", help="print one JSON object, whatever the outcome")
    parser.set_defaults(func=backfill_command)


# --- the report ---------------------------------------------------------------------------------
@dataclass
class Failure:
    source: str
    error: str
    cause: str


@dataclass
class BackfillSummary:
    """What the ResultWriter files say about every source of one backfill."""

    items: int = 0
    succeeded: int = 0
    skipped: int = 0
    renditions: int = 0
    ignored: int = 0
    failures: list[Failure] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # every image source the report names, in file order
    report: str | None = None

    @property
    def failed(self) -> int:
        return len(self.failures)

    def as_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "renditions": self.renditions,
            "report": self.report,
        }

    def add_source(self, result: Mapping[str, Any]) -> None:
        """One source's result, as the batch processor records it."""
        if result.get("ignored"):
            self.ignored += 1
            return
        self.items += 1
        self.sources.append(str(result.get("sourceLocation")))
        if result.get("failed"):
            self.failures.append(
                Failure(
                    str(result.get("sourceLocation")),
                    str(result.get("error")),
                    error_message(result.get("cause")),
                )
            )
            return
        self.succeeded += 1
        rendered = int(result.get("rendered") or 0)
        self.renditions += rendered
        if rendered == 0 and int(result.get("skipped") or 0) > 0:
            self.skipped += 1

    def add_child(self, entry: Mapping[str, Any], bucket: str | None) -> None:
        """One child execution of a ResultWriter file: its sources' results, or every source failed."""
        if entry.get("Status") == "SUCCEEDED":
            for result in _json_list(entry.get("Output")):
                self.add_source(result)
            return
        error, cause = str(entry.get("Error") or "States.Runtime"), str(entry.get("Cause") or "")
        if error == BATCH_FAILED_ERROR:
            results = _json_list(cause)
            if results:
                for result in results:
                    self.add_source(result)
                return
        # The whole child failed (timeout, throttling after retries, ...): each of its sources failed.
        batch = _json_object(entry.get("Input"))
        for item in batch.get("Items", []):
            key = item.get("Key", "?") if isinstance(item, Mapping) else "?"
            self.add_source(
                {"sourceLocation": f"s3://{bucket}/{key}", "failed": True, "error": error, "cause": cause}
            )


def error_message(cause: Any) -> str:
    """A Lambda error's message from its cause (`{"errorType", "errorMessage", ...}`), else the cause."""
    message = _json_object(cause).get("errorMessage")
    return str(message) if message else str(cause or "")


def _json_list(text: Any) -> list[Mapping[str, Any]]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return []
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _json_object(text: Any) -> Mapping[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, Mapping) else {}


def read_report(s3: Any, bucket: str, manifest_key: str, *, source_bucket: str | None) -> BackfillSummary:
    """Read a ResultWriter manifest and every result file it lists (SUCCEEDED and FAILED)."""
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    summary = BackfillSummary(report=f"s3://{bucket}/{manifest_key}")
    files = manifest.get("ResultFiles", {})
    for status in ("SUCCEEDED", "FAILED"):
        for result_file in files.get(status, []):
            body = s3.get_object(Bucket=manifest.get("DestinationBucket", bucket), Key=result_file["Key"])
            for entry in json.loads(body["Body"].read()):
                summary.add_child(entry, source_bucket)
    return summary


# --- progress -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapRunProgress:
    done: int
    failed: int
    total: int
    elapsed_seconds: float

    @property
    def rate(self) -> float:
        """Items per second so far."""
        return self.done / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if self.rate <= 0 or self.total <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


def map_run_progress(described: Mapping[str, Any], now: float, started: float) -> MapRunProgress:
    """Items done/failed/total from DescribeMapRun's itemCounts."""
    counts = described.get("itemCounts", {})
    failed = int(counts.get("failed", 0)) + int(counts.get("timedOut", 0)) + int(counts.get("aborted", 0))
    done = int(counts.get("succeeded", 0)) + failed
    return MapRunProgress(
        done=done, failed=failed, total=int(counts.get("total", 0)), elapsed_seconds=now - started
    )


def _describe_line(progress: MapRunProgress) -> str:
    eta = progress.eta_seconds
    eta_text = "-" if eta is None else f"{eta:.0f} s"
    return f"failed {progress.failed}  {progress.rate:.1f} items/s  ETA {eta_text}"


def follow(sfn: Any, execution_arn: str, *, poll_seconds: float, console: Console | None) -> dict[str, Any]:
    """Poll the execution and its Map Run until it ends; show progress when given a console."""
    started = time.monotonic()
    bar = None
    progress = None
    if console is not None:
        progress = Progress(
            TextColumn("[bold]backfill"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        progress.start()
        bar = progress.add_task("listing", total=None)
    try:
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if progress is not None and bar is not None:
                runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
                if runs:
                    run = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
                    state = map_run_progress(run, time.monotonic(), started)
                    progress.update(
                        bar,
                        completed=state.done,
                        total=state.total or None,
                        description=_describe_line(state),
                    )
            if described["status"] in TERMINAL:
                return described
            time.sleep(poll_seconds)
    finally:
        if progress is not None:
            progress.stop()


# --- the command --------------------------------------------------------------------------------
def backfill_command(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    console = Console(stderr=True)
    try:
        return _backfill(args, console)
    except UsageError as error:
        return _fail(console, args, error="UsageError", cause=str(error), code=EXIT_USAGE)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        return _fail(console, args, error=code, cause=str(error), code=EXIT_FAILED)
    except BotoCoreError as error:
        return _fail(console, args, error=type(error).__name__, cause=str(error), code=EXIT_FAILED)
    except KeyboardInterrupt:
        console.print("imgpipe backfill: stopped following (the backfill goes on)")
        return EXIT_FAILED


def _fail(console: Console, args: argparse.Namespace, *, error: str, cause: str, code: int) -> int:
    if args.json:
        status = "USAGE_ERROR" if code == EXIT_USAGE else "ERROR"
        print(json.dumps({"status": status, "error": error, "cause": cause}))
    console.print(f"imgpipe backfill: {cause}", highlight=False, markup=False, soft_wrap=True)
    return code


def parse_recipe(text: str | None, config: Any) -> dict[str, Any]:
    """The recipe from --recipe (JSON or @file; default: cdk.json's `defaultRecipe`, exactly what
    the S3 trigger hands its workflow), checked as the worker checks it (`RenditionsRecipe`, and
    every format x size against the deployment's limits), so a recipe the worker would refuse fails
    here naming the field instead of failing every source. Returned as given: the backfill passes
    each of its fields to the worker, as an upload's workflow does."""
    if text is None:
        return _checked_recipe(config.defaultRecipe.model_dump(mode="json"), config, "imgpipe:defaultRecipe")
    raw = text
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise UsageError(f"--recipe: no file {path}")
        raw = path.read_text()
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise UsageError(f"--recipe: not JSON ({error})") from error
    if not isinstance(value, dict):
        raise UsageError(f"--recipe: a recipe is a JSON object, got {type(value).__name__}")
    return _checked_recipe(value, config, "--recipe")


def _checked_recipe(recipe: dict[str, Any], config: Any, source: str) -> dict[str, Any]:
    from lambdas.core.errors import InvalidRecipeError
    from lambdas.core.inputs import RenditionsRecipe, parse_event
    from lambdas.core.planner import planned_renditions

    try:
        parsed = parse_event(recipe, RenditionsRecipe)
        planned_renditions(parsed, max_dimension=config.maxOutputDimension, max_fanout=config.maxFanout)
    except InvalidRecipeError as error:
        raise UsageError(f"{source}: {error}") from error
    return recipe


def _parse_s3_uri(uri: str, flag: str) -> dict[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise UsageError(f"{flag}: {uri!r} is not s3://bucket/key")
    bucket, key = uri[5:].split("/", 1)
    return {"bucket": bucket, "key": key}


def _target(args: argparse.Namespace, sfn: Any, config: Any) -> tuple[str, str | None, str | None]:
    """The backfill state machine ARN, the input bucket and the report bucket."""
    from imgpipe.config import state_machine_output_key
    from imgpipe.local import remote
    from imgpipe.local.engine import local_bucket_names

    if args.stack_name:
        outputs = remote.stack_outputs(endpoint.client(args, "cloudformation"), args.stack_name)
        key = state_machine_output_key(args.workflow)
        if key not in outputs:
            raise UsageError(
                f"--stack-name: stack {args.stack_name!r} has no output {key} (deploy the backfill)"
            )
        return outputs[key], outputs.get("InputBucketName"), outputs.get("OutputBucketName")
    found = remote.from_name(sfn, args.workflow, config)
    input_bucket, output_bucket = local_bucket_names(config)
    return found.state_machine_arn, input_bucket, output_bucket


def _backfill(args: argparse.Namespace, console: Console) -> int:
    from imgpipe.config import DeploymentConfig

    config = DeploymentConfig.from_cdk_json()
    recipe = parse_recipe(args.recipe, config)
    sfn, s3 = endpoint.client(args, "stepfunctions"), endpoint.client(args, "s3")
    state_machine_arn, input_bucket, _ = _target(args, sfn, config)
    bucket = args.bucket or input_bucket
    if not bucket:
        raise UsageError("--bucket: no bucket given and none in the stack outputs")
    execution_input: dict[str, Any] = {"bucket": bucket, "prefix": args.prefix, "recipe": recipe}
    if config.backfillItemReader == "inventory":
        if not args.manifest:
            raise UsageError(
                "--manifest: the deployment reads an S3 Inventory manifest (imgpipe:backfillItemReader)"
            )
        execution_input["manifest"] = _parse_s3_uri(args.manifest, "--manifest")
    parameters: dict[str, Any] = {"stateMachineArn": state_machine_arn, "input": json.dumps(execution_input)}
    if args.name:
        parameters["name"] = args.name
    execution_arn: str = sfn.start_execution(**parameters)["executionArn"]
    if not args.json:
        console.print(f"started {execution_arn}", highlight=False, soft_wrap=True)
    poll = LOCAL_POLL_SECONDS if args.endpoint_url else AWS_POLL_SECONDS
    described = follow(sfn, execution_arn, poll_seconds=poll, console=None if args.json else console)
    if described["status"] != "SUCCEEDED":
        return _fail(
            console,
            args,
            error=str(described.get("error") or described["status"]),
            cause=f"{execution_arn} {described['status']}: {described.get('cause') or ''}".strip(),
            code=EXIT_FAILED,
        )
    details = json.loads(described.get("output") or "{}").get("ResultWriterDetails", {})
    summary = read_report(s3, details["Bucket"], details["Key"], source_bucket=bucket)
    if args.json:
        print(json.dumps(summary.as_json()))
    else:
        print_summary(Console(), summary)
    sys.stdout.flush()
    return EXIT_OK if summary.failed == 0 else EXIT_FAILED


def print_summary(console: Console, summary: BackfillSummary) -> None:
    table = Table(title="backfill", show_header=True)
    for column in (
        "sources",
        "rendered",
        "skipped (all renditions existed)",
        "failed",
        "renditions written",
        "not images",
    ):
        table.add_column(column, justify="right")
    rendered = summary.succeeded - summary.skipped
    table.add_row(
        *(
            str(v)
            for v in (
                summary.items,
                rendered,
                summary.skipped,
                summary.failed,
                summary.renditions,
                summary.ignored,
            )
        )
    )
    console.print(table)
    if summary.failures:
        failures = Table(title="failed sources", show_header=True)
        failures.add_column("source", overflow="fold")
        failures.add_column("error")
        failures.add_column("message", overflow="fold")
        for failure in _sorted(summary.failures):
            failures.add_row(failure.source, failure.error, failure.cause[:300])
        console.print(failures)
    console.print(f"report: {summary.report}", highlight=False)


def _sorted(failures: Iterable[Failure]) -> list[Failure]:
    return sorted(failures, key=lambda failure: failure.source)
