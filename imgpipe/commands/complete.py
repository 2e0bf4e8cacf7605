"""`imgpipe complete`: give a waiting HUMAN (or signalled WAIT) task its output, as Conductor's
task update API does, on AWS or at a local endpoint (`imgpipe serve`, `--endpoint-url`).

The translated task waits for its task token (statemachines/translator/callback.py); the token is
read back from the TaskScheduled event of the execution history and sent with SendTaskSuccess
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html), or
SendTaskFailure with `--failed`. The caller needs states:GetExecutionHistory on the execution and
states:SendTaskSuccess (SendTaskFailure).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from imgpipe.commands import endpoint
from imgpipe.commands.endpoint import add_endpoint_arguments, execution_arn
from lambdas.conductor.callbacks import FAILED_ERROR, latest_callback_token

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class TaskNotWaiting(LookupError):
    """No task of that reference has waited for a token in the execution."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "complete",
        help="complete a waiting HUMAN or WAIT task with its output",
        description="Complete a HUMAN task (or a WAIT without duration/until) of a running execution: "
        "its output becomes the task's output and the workflow goes on.",
    )
    parser.add_argument("task_ref", metavar="TASK_REF", help="the task's taskReferenceName")
    parser.add_argument("--execution", required=True, help="execution ARN")
    outcome = parser.add_mutually_exclusive_group()
    outcome.add_argument("--output", default="{}", help="the task's output: a JSON object, or @file.json")
    outcome.add_argument(
        "--failed",
        metavar="REASON",
        help=f"fail the task instead (Conductor's FAILED status): error {FAILED_ERROR}, cause REASON",
    )
    add_endpoint_arguments(parser)
    parser.set_defaults(func=complete_command)


def complete_command(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from imgpipe.local.runner import UsageError, parse_input

    try:
        execution_arn(args.execution)
        output, _ = parse_input(args.output, cwd=Path.cwd(), option="--output", what="the task output")
    except UsageError as error:
        print(f"imgpipe complete: {error}", file=sys.stderr)
        return EXIT_USAGE
    client = endpoint.client(args, "stepfunctions")
    try:
        if args.failed is not None:
            fail_task(client, args.execution, args.task_ref, args.failed)
        else:
            complete_task(client, args.execution, args.task_ref, output)
    except TaskNotWaiting as error:
        print(f"imgpipe complete: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as error:
        print(f"imgpipe complete: {args.task_ref}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{'failed' if args.failed is not None else 'completed'} {args.task_ref} of {args.execution}")
    return EXIT_OK


def complete_task(client: Any, execution_arn: str, task_ref: str, output: dict[str, Any]) -> None:
    """SendTaskSuccess with `output` for the latest wait of `task_ref`; raises TaskNotWaiting, or
    botocore's ClientError (e.g. TaskTimedOut when that wait has already ended)."""
    token = waiting_task_token(client, execution_arn, task_ref)
    client.send_task_success(taskToken=token, output=json.dumps(output))


def fail_task(client: Any, execution_arn: str, task_ref: str, reason: str) -> None:
    """SendTaskFailure for the latest wait of `task_ref`: the Task state fails with FAILED_ERROR
    (caught when the task is optional, as Conductor's optional tasks are)."""
    token = waiting_task_token(client, execution_arn, task_ref)
    client.send_task_failure(taskToken=token, error=FAILED_ERROR, cause=reason)


def waiting_task_token(client: Any, execution_arn: str, task_ref: str) -> str:
    """The token of the latest callback task `task_ref` scheduled in the execution (newest first)."""
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 1000}
    while True:
        page = client.get_execution_history(**kwargs)
        token = latest_callback_token(page["events"], task_ref)
        if token is not None:
            return token
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    raise TaskNotWaiting(f"no HUMAN or WAIT task '{task_ref}' has waited for completion in {execution_arn}")
