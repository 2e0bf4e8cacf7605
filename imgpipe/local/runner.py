"""One workflow run, end to end: prepare the input, execute, follow, collect the renditions.

Shared by `imgpipe run` (local engine) and `imgpipe start`/`watch` (any Step Functions endpoint):
everything after the start works from the Step Functions and S3 APIs only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image

from imgpipe.local import results
from imgpipe.local.contact_sheet import SheetPlaceholder, make_contact_sheet
from imgpipe.local.engine import execution_history

LOCAL_UPLOAD_PREFIX = "local-runs/"  # outside the trigger's input prefix: a `run` never re-triggers
CONTACT_SHEET = "contact-sheet.png"
MANIFEST_FILE = "manifest.json"  # the workflow output's `manifestLocation`, downloaded


class UsageError(ValueError):
    """A mistake in what the user asked for (exit code 2, one line, no traceback)."""


@dataclass
class Rendition:
    path: str
    format: str | None
    width: int
    height: int
    bytes: int
    key: str
    seconds: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "key": self.key,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
        }


@dataclass
class RunResult:
    execution_arn: str
    status: str
    output: Any
    failure: results.Failure | None
    renditions: list[Rendition]
    state_attempts: dict[str, int]
    transitions: int
    duration_ms: int | None
    contact_sheet: str | None = None
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    manifest: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The one JSON object `--json` prints."""
        return {
            "executionArn": self.execution_arn,
            "status": self.status,
            "output": self.output,
            "error": self.failure.error if self.failure else None,
            "cause": self.failure.cause if self.failure else None,
            "failedState": self.failure.state if self.failure else None,
            "renditions": [rendition.as_json() for rendition in self.renditions],
            "contactSheet": self.contact_sheet,
            "manifest": self.manifest,
            "stateAttempts": self.state_attempts,
            "transitions": self.transitions,
            "durationMs": self.duration_ms,
        }


# --- input --------------------------------------------------------------------------------------
def parse_input(
    text: str, *, cwd: Path, option: str = "--input", what: str = "the workflow input"
) -> tuple[dict[str, Any], Path]:
    """`--input` (or `option`) as JSON text or ``@file.json``; returns the object and the directory
    that relative ``fileLocation`` paths resolve against (the file's directory, or the current one)."""
    base = cwd
    source = option
    if text.startswith("@"):
        path = (cwd / text[1:]).resolve()
        if not path.is_file():
            raise UsageError(f"{option}: file {text[1:]!r} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{option}: cannot read {path}: {error}") from error
        base, source = path.parent, str(path)
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{source}: not valid JSON ({error})") from error
    if not isinstance(value, dict):
        raise UsageError(f"{source}: {what} must be a JSON object")
    return value, base


def is_remote_location(location: str) -> bool:
    return location.startswith(("s3://", "https://", "http://"))


def local_source(workflow_input: Mapping[str, Any], base: Path) -> Path | None:
    """The local file named by ``fileLocation``, if it names one (else None: s3:// or a URL)."""
    location = workflow_input.get("fileLocation")
    if not isinstance(location, str) or not location or is_remote_location(location):
        return None
    path = Path(location).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise UsageError(f"fileLocation: {location!r} is not a file (relative paths resolve against {base})")
    return path.resolve()


def upload_key(path: Path) -> str:
    """Content-addressed, so the same file is uploaded once and names stay deterministic."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"{LOCAL_UPLOAD_PREFIX}{digest}/{path.name}"


# --- after the execution ------------------------------------------------------------------------
def collect_histories(sfn: Any, execution_arn: str) -> dict[str, list[dict[str, Any]]]:
    """The history of an execution and of every child execution it started, parents first."""
    histories: dict[str, list[dict[str, Any]]] = {}
    pending = [execution_arn]
    while pending:
        arn = pending.pop(0)
        if arn in histories:
            continue
        histories[arn] = execution_history(sfn, arn)
        pending.extend(results.child_execution_arns(histories[arn]))
    return histories


def deepest_failure(
    sfn: Any, histories: Mapping[str, Sequence[Mapping[str, Any]]], execution_arn: str
) -> results.Failure | None:
    """The failure as the worker reported it: a failed child execution explains its parent's."""
    described = sfn.describe_execution(executionArn=execution_arn)
    own = results.failure(histories.get(execution_arn, []), described)
    if own is None:
        return None
    own = results.in_user_words(own, _definition(sfn, described.get("stateMachineArn")))
    for child in results.child_execution_arns(histories.get(execution_arn, [])):
        if child in histories and sfn.describe_execution(executionArn=child)["status"] != "SUCCEEDED":
            inner = deepest_failure(sfn, histories, child)
            if inner is not None:
                state = f"{own.state} > {inner.state}" if own.state and inner.state else inner.state
                return results.Failure(state=state, error=inner.error, cause=inner.cause)
    return own


def _definition(sfn: Any, state_machine_arn: str | None) -> dict[str, Any]:
    """The state machine's ASL, or {} when it cannot be read (no DescribeStateMachine permission)."""
    if not state_machine_arn:
        return {}
    try:
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=state_machine_arn)["definition"])
    except (ClientError, ValueError, KeyError):
        return {}
    return definition if isinstance(definition, dict) else {}


def download_renditions(
    s3: Any, objects: Sequence[results.PublishedObject], out_dir: Path, output_prefix: str
) -> list[Rendition]:
    """Download each published object into ``out_dir`` and decode it to report what it really is."""
    renditions: list[Rendition] = []
    root = out_dir.resolve()
    for published in objects:
        relative = published.key.removeprefix(output_prefix)
        parts = [part for part in PurePosixPath(relative).parts if part not in ("", ".", "..")]
        destination = root.joinpath(*parts) if parts else root / "rendition"
        destination.parent.mkdir(parents=True, exist_ok=True)
        body = s3.get_object(Bucket=published.bucket, Key=published.key)["Body"].read()
        destination.write_bytes(body)
        with Image.open(destination) as image:
            renditions.append(
                Rendition(
                    path=str(destination),
                    format=image.format,
                    width=image.width,
                    height=image.height,
                    bytes=len(body),
                    key=published.key,
                    seconds=published.seconds,
                )
            )
    return renditions


def published_objects(
    histories: Mapping[str, Sequence[Mapping[str, Any]]], output_bucket: str
) -> list[results.PublishedObject]:
    """The renditions of an execution and its children, in the order the root execution reports
    them; each with the time of the innermost task that reported it (the worker, not the child run).

    Histories are read one by one: event ids restart at 1 in every execution.
    """
    found: dict[tuple[str, str], results.PublishedObject] = {}
    for events in histories.values():
        for published in results.published_objects(events, output_bucket):
            location = (published.bucket, published.key)
            if location not in found or published.seconds is not None:
                found[location] = published
    # Tasks finish in any order; the workflow output lists renditions in plan order: use it, so the
    # table and the contact sheet are the same on every run (keys break ties).
    root_output = [e for e in next(iter(histories.values()), []) if e.get("type") == "ExecutionSucceeded"]
    planned = [
        (published.bucket, published.key)
        for published in results.published_objects(root_output, output_bucket)
    ]
    rank = {location: position for position, location in enumerate(planned)}
    return sorted(found.values(), key=lambda p: (rank.get((p.bucket, p.key), len(rank)), p.key))


def download_manifest(s3: Any, output: Any, output_bucket: str, out_dir: Path) -> Path | None:
    """The workflow output's `manifestLocation`, saved as ``out_dir/manifest.json`` (its bytes as
    written); None when the workflow writes none (the dynamic-fork workflows) or it is elsewhere."""
    location = output.get("manifestLocation") if isinstance(output, Mapping) else None
    found = results.object_locations(location, output_bucket) if isinstance(location, str) else None
    if found is None:
        return None
    bucket, key = found
    destination = out_dir.resolve() / MANIFEST_FILE
    destination.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return destination


def manifest_placeholder(path: Path) -> SheetPlaceholder | None:
    """What the contact sheet shows of a manifest's placeholder; None if the file does not hold one
    (it came from S3: read it as data, never trust its shape)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        placeholder, source = document["placeholder"], document["source"]
        return SheetPlaceholder(
            blurhash=str(placeholder["blurhash"]),
            dominant_colour=str(placeholder["dominantColor"]),
            aspect=int(source["width"]) / int(source["height"]),
        )
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def finish(
    sfn: Any,
    s3: Any | None,
    execution_arn: str,
    *,
    output_bucket: str,
    output_prefix: str,
    out_dir: Path | None,
    contact_sheet: bool = True,
) -> RunResult:
    """Everything `--json` reports about an ended execution; downloads renditions when asked."""
    described = sfn.describe_execution(executionArn=execution_arn)
    histories = collect_histories(sfn, execution_arn)
    attempts: dict[str, int] = {}
    for events in histories.values():
        for state, count in results.state_attempts(events).items():
            attempts[state] = attempts.get(state, 0) + count
    output = described.get("output")
    parsed_output = json.loads(output) if isinstance(output, str) and output else None
    renditions: list[Rendition] = []
    sheet = manifest = None
    if s3 is not None and out_dir is not None:
        objects = published_objects(histories, output_bucket)
        renditions = download_renditions(s3, objects, out_dir, output_prefix)
        manifest = download_manifest(s3, parsed_output, output_bucket, out_dir)
        if renditions and contact_sheet:
            paths = [Path(rendition.path) for rendition in renditions]
            placeholder = manifest_placeholder(manifest) if manifest else None
            sheet = str(make_contact_sheet(paths, out_dir.resolve() / CONTACT_SHEET, placeholder=placeholder))
    start, stop = described.get("startDate"), described.get("stopDate")
    duration = int((stop - start).total_seconds() * 1000) if start and stop else None
    return RunResult(
        execution_arn=execution_arn,
        status=described["status"],
        output=parsed_output,
        failure=deepest_failure(sfn, histories, execution_arn),
        renditions=renditions,
        state_attempts=dict(sorted(attempts.items())),
        transitions=sum(results.transitions(events) for events in histories.values()),
        duration_ms=duration,
        contact_sheet=sheet,
        histories=histories,
        manifest=str(manifest) if manifest else None,
    )


ProgressFactory = Callable[[], Any]
