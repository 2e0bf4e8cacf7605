"""`imgpipe serve --stack-name S`: the viewer alone, on loopback, over a deployed stack.

No local engine starts: the viewer reads the stack's state machines and buckets (its CloudFormation
outputs) through the Step Functions and S3 APIs with the user's credentials (boto3's default chain),
exactly as it reads the local engine; it writes only when the page starts or stops an execution,
and never with `--read-only`.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server

from imgpipe.viewer.app import ViewerApp
from imgpipe.viewer.backend import ViewerBackend

LOOPBACK = "127.0.0.1"
EXIT_OK, EXIT_FAILED = 0, 1
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ViewerInfo:
    """What `on_ready` receives: where the viewer answers, and what it reads."""

    viewer_url: str
    stack_name: str
    region: str
    state_machines: tuple[str, ...]


def serve_stack(
    args: argparse.Namespace,
    *,
    stop: threading.Event,
    on_ready: Callable[[Any], None] | None = None,
) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from imgpipe.local.runner import UsageError

    try:
        backend = ViewerBackend.for_stack(
            args.stack_name,
            region=args.region,
            endpoint_url=args.endpoint_url,
            read_only=args.read_only,
        )
    except (ClientError, BotoCoreError, UsageError) as error:
        print(f"imgpipe serve: --stack-name {args.stack_name}: {error}", file=sys.stderr)
        return EXIT_FAILED
    viewer = ViewerApp(backend)
    try:
        server = make_server(LOOPBACK, args.port, viewer.flask, threaded=True)
    except OSError as error:
        backend.close()
        print(f"imgpipe serve: cannot listen on {LOOPBACK}:{args.port} ({error})", file=sys.stderr)
        return EXIT_FAILED
    host, port = str(server.server_address[0]), int(server.server_address[1])
    viewer.attach(backend, host, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    info = ViewerInfo(
        viewer_url=f"http://{host}:{port}/",
        stack_name=args.stack_name,
        region=backend.stack.region,
        state_machines=backend.stack.state_machine_arns or (),
    )
    mode = "read-only" if args.read_only else "writes only when you start or stop an execution"
    print(
        f"imgpipe serve: viewer {info.viewer_url} for stack {args.stack_name} "
        f"({info.region}, {len(info.state_machines)} state machines; {mode})\n  Ctrl-C stops",
        flush=True,
    )
    if on_ready is not None:
        on_ready(info)
    try:
        while not stop.wait(POLL_SECONDS):
            pass
    except KeyboardInterrupt:
        print("")
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        backend.close()
    print("imgpipe serve: stopped", flush=True)
    return EXIT_OK
