"""`imgpipe serve`: the local engine as an AWS endpoint (S3 + Step Functions) on loopback.

Point the AWS CLI or boto3 at it with ``--endpoint-url``: a PutObject into the input bucket under
the input prefix starts the trigger workflow, StartExecution/DescribeExecution work on the deployed
state machine names. Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POLL_SECONDS = 0.2
# Once stopping, how long the shutdown and anything still running may hold the process.
EXIT_GRACE_SECONDS = 20.0
STATE_NOTICE = "state is in memory only: stopping (or restarting) loses every bucket, object and execution"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the local engine as an S3 + Step Functions endpoint (for --endpoint-url)",
        description="Serve the local engine on 127.0.0.1. Uploads to the input bucket trigger the "
        "workflow; StartExecution works on the deployed state machine names. Ctrl-C stops it.",
    )
    parser.add_argument("--port", type=int, default=5000, help="TCP port on 127.0.0.1 (0 = any free port)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply Retry/Wait delays (1.0 = as deployed; 0 = no waiting)",
    )
    parser.add_argument(
        "--logs",
        type=Path,
        default=Path("out/serve/worker-logs.jsonl"),
        help="worker, moto and HTTP logs go here (default out/serve/worker-logs.jsonl)",
    )
    parser.add_argument(
        "--files-root",
        type=Path,
        default=None,
        metavar="DIR",
        help="let executions read local paths under DIR (default: none; local paths are refused, "
        "as on Lambda, so the endpoint never reads this machine's files)",
    )
    parser.add_argument("--json", action="store_true", help="print the endpoint description as one JSON line")
    deployed = parser.add_argument_group(
        "a deployed stack", "serve only the execution viewer, over a stack deployed with cdk deploy"
    )
    deployed.add_argument("--stack-name", help="read this CloudFormation stack with your AWS credentials")
    deployed.add_argument("--region", help="the stack's region (default: from the environment)")
    deployed.add_argument(
        "--endpoint-url", help="another Step Functions, S3 and CloudFormation endpoint than AWS's"
    )
    deployed.add_argument("--read-only", action="store_true", help="no start or stop from the page")
    parser.set_defaults(func=serve_command)


def serve_command(
    args: argparse.Namespace,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[Any], None] | None = None,
) -> int:
    """Serve until Ctrl-C (or ``stop`` is set, for tests); ``on_ready`` receives the ServerInfo."""
    if not 0 <= args.port <= 65535:
        print(f"imgpipe serve: --port {args.port}: must be 0..65535", file=sys.stderr)
        return EXIT_USAGE
    if args.time_scale < 0:
        print("imgpipe serve: --time-scale: must be zero or more", file=sys.stderr)
        return EXIT_USAGE
    files_root = getattr(args, "files_root", None)
    if files_root is not None and not files_root.is_dir():
        print(f"imgpipe serve: --files-root {files_root}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    stop = stop or threading.Event()
    if getattr(args, "stack_name", None):
        from imgpipe.viewer.standalone import serve_stack

        _stop_on_sigterm(stop)
        return serve_stack(args, stop=stop, on_ready=on_ready)
    from imgpipe.local import logs
    from imgpipe.local.engine import EngineError
    from imgpipe.local.server import LocalServer

    out = sys.stdout
    _stop_on_sigterm(stop)
    stopping = False
    printed = threading.Event()
    try:
        with (
            # The process ends after serving: work still in flight at Ctrl-C keeps writing to the log.
            logs.captured(args.logs, until_exit=threading.current_thread() is threading.main_thread()),
            LocalServer(port=args.port, time_scale=args.time_scale, files_root=files_root) as server,
        ):
            assert server.info is not None
            _announce(server.info, args, out)
            if on_ready is not None:
                on_ready(server.info)
            _follow_triggers(server, stop, out)
            stopping = True
            if threading.current_thread() is threading.main_thread():
                _exit_within(EXIT_GRACE_SECONDS, args.logs, out, printed)
    except KeyboardInterrupt:  # Ctrl-C while starting
        pass
    except OSError as error:  # the port is taken, the log file cannot be written, ...
        if not stopping:
            print(f"imgpipe serve: {error}", file=sys.stderr)
            return EXIT_FAILED
        _log_line(args.logs, f"imgpipe serve: while stopping: {error!r}")  # the user's stop succeeded
    except EngineError as error:
        print(f"imgpipe serve: {error}", file=sys.stderr)
        return EXIT_FAILED
    _print_stopped(out, printed)
    return EXIT_OK


def _print_stopped(out: Any, printed: threading.Event) -> None:
    """The "stopped" line, once: the normal exit and a forced one may both reach it."""
    if not printed.is_set():
        printed.set()
        print("imgpipe serve: stopped", file=out, flush=True)


def _log_line(log_path: Path, line: str) -> None:
    with contextlib.suppress(OSError), log_path.open("a", encoding="utf-8") as log:
        print(line, file=log, flush=True)


def _exit_within(seconds: float, log_path: Path, out: Any, printed: threading.Event) -> None:
    """Once stopping, end the process within `seconds` even if the shutdown or a thread still
    running would hold it (seen under load in CI after Ctrl-C), as a process manager would; a
    normal exit that comes first wins. The threads' stacks go to the log."""

    def force() -> None:
        _log_line(log_path, f"imgpipe serve: stop held {seconds:.0f} s; threads:")
        with contextlib.suppress(OSError), log_path.open("a", encoding="utf-8") as log:
            faulthandler.dump_traceback(file=log, all_threads=True)
        with contextlib.suppress(OSError, ValueError):
            _print_stopped(out, printed)
            sys.stdout.flush()
        os._exit(EXIT_OK)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()


def _stop_on_sigterm(stop: threading.Event) -> None:
    """SIGTERM (`kill`, a process manager, a CI job ending) stops as cleanly as Ctrl-C does."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())


def _announce(info: Any, args: argparse.Namespace, out: Any) -> None:
    if args.json:
        print(json.dumps(info.as_json()), file=out, flush=True)
        return
    lines = [
        f"imgpipe serve: endpoint {info.endpoint_url} (region {info.region}, any credentials)",
        f"  input bucket   {info.input_bucket}  (uploads under {info.input_prefix!r} trigger the workflow)",
        f"  output bucket  {info.output_bucket}",
        f"  Conductor API  {info.conductor_api_url}  (the seeds' curl commands: docs/local.md)",
        f"  viewer         {info.endpoint_url}/  (workflows, executions; /execution/<id>)",
        "  state machines",
        *(f"    {arn}" for arn in info.state_machines.values()),
        f"  try: aws --endpoint-url {info.endpoint_url} s3 cp photo.jpg "
        f"s3://{info.input_bucket}/{info.input_prefix}photo.jpg",
        f"  logs: {args.logs}    Ctrl-C stops",
        f"  {STATE_NOTICE}",
    ]
    files_root = getattr(args, "files_root", None)
    lines.insert(
        -1,
        f"  local paths    read under {files_root.resolve()}"
        if files_root
        else "  local paths    refused (as on Lambda); --files-root DIR allows them under DIR",
    )
    print("\n".join(lines), file=out, flush=True)


def _follow_triggers(server: Any, stop: threading.Event, out: Any) -> None:
    """Print each upload the trigger started (or refused) until stopped; Ctrl-C ends it quietly."""
    shown = 0
    try:
        while not stop.wait(POLL_SECONDS):
            shown = _print_deliveries(server.engine.trigger_deliveries, shown, out)
        _print_deliveries(server.engine.trigger_deliveries, shown, out)  # those of the last poll
    except KeyboardInterrupt:
        print("", file=out)


def _print_deliveries(deliveries: Any, shown: int, out: Any) -> int:
    """Print the deliveries after the first `shown`; return how many are shown now. Counts what it
    printed, not the list's length: uploads delivered meanwhile are printed on the next poll."""
    fresh = deliveries[shown:]
    for delivery in fresh:
        detail = delivery.event.get("detail", {})
        where = f"s3://{detail.get('bucket', {}).get('name')}/{detail.get('object', {}).get('key')}"
        if delivery.execution_arn:
            print(f"upload {where} -> {delivery.execution_arn}", file=out, flush=True)
        elif delivery.error:
            print(f"upload {where}: not started: {delivery.error}", file=out, flush=True)
    return shown + len(fresh)
