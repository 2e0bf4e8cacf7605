"""`imgpipe history`: export an execution's history (and its child executions') as JSON.

The local engine lives only as long as `imgpipe run` (which writes `history.json` itself), so this
reads from a Step Functions endpoint: AWS, or `--endpoint-url` of a local server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imgpipe.commands import endpoint
from imgpipe.commands.endpoint import add_endpoint_arguments, execution_arn

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("history", help="export an execution history as JSON")
    parser.add_argument("execution", help="execution ARN")
    add_endpoint_arguments(parser)
    parser.add_argument("--out", type=Path, help="write to this file instead of stdout")
    parser.set_defaults(func=history_command)


def history_command(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from imgpipe.local import history
    from imgpipe.local.runner import UsageError, collect_histories

    try:
        execution_arn(args.execution)
    except UsageError as error:
        print(f"imgpipe history: {error}", file=sys.stderr)
        return EXIT_USAGE
    client = endpoint.client(args, "stepfunctions")
    try:
        histories = collect_histories(client, args.execution)
    except (ClientError, BotoCoreError) as error:
        print(f"imgpipe history: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.out:
        history.write(args.out, histories)
    else:
        print(history.dumps(histories))
    return EXIT_OK
