"""`imgpipe start` and `imgpipe watch`: run and follow a deployed workflow through the Step Functions API.

The state machine comes from the CloudFormation stack's outputs (``--stack-name``), an ARN
(``--state-machine-arn``) or its name at an endpoint (``imgpipe serve`` with ``--endpoint-url``).
Progress, the renditions table and ``--json`` are the same as ``imgpipe run``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from imgpipe.commands import endpoint
from imgpipe.commands.endpoint import add_endpoint_arguments, execution_arn
from imgpipe.local.runner import UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
AWS_POLL_SECONDS = 1.0  # GetExecutionHistory is throttled on AWS
LOCAL_POLL_SECONDS = 0.1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    start = subparsers.add_parser(
        "start",
        help="start a deployed workflow (AWS, or imgpipe serve with --endpoint-url) and follow it",
        description="Start an execution of a deployed workflow and follow it to the end.",
    )
    start.add_argument(
        "workflow", nargs="?", help="Conductor workflow name, e.g. image_multiple_convert_resize"
    )
    where = start.add_mutually_exclusive_group()
    where.add_argument("--stack-name", help="find the state machine in this CloudFormation stack's outputs")
    where.add_argument("--state-machine-arn", help="the state machine to start")
    given = start.add_mutually_exclusive_group(required=True)
    given.add_argument("--input", help="workflow input: JSON text or @file.json")
    given.add_argument("--image", help="source image: s3://bucket/key, https URL, or a local file (uploaded)")
    start.add_argument("--formats", help="with --image: output formats, e.g. png,jpg,webp")
    start.add_argument("--sizes", help="with --image: output boxes, e.g. 300x300,200x200")
    start.add_argument(
        "--keep-aspect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --image: keep the aspect ratio (default) or stretch to the box",
    )
    start.add_argument("--name", help="execution name (default: generated)")
    start.add_argument("--no-wait", action="store_true", help="print the execution ARN and return")
    _common(start)
    start.set_defaults(func=start_command)

    watch = subparsers.add_parser(
        "watch",
        help="follow an existing execution to its end",
        description="Follow an execution (progress, renditions, failure) until it ends.",
    )
    watch.add_argument("execution_arn", help="the execution ARN")
    watch.add_argument("--stack-name", help="read the output bucket from this stack's outputs")
    _common(watch)
    watch.set_defaults(func=watch_command)


def _common(parser: argparse.ArgumentParser) -> None:
    add_endpoint_arguments(parser)
    parser.add_argument("--input-bucket", help="bucket for local --image files (default: from the stack)")
    parser.add_argument("--output-bucket", help="where renditions are read from (default: from the stack)")
    parser.add_argument("--out", type=Path, help="where renditions go (default ./out/<execution>/)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, whatever the outcome")


# --- commands -----------------------------------------------------------------------------------
def start_command(args: argparse.Namespace) -> int:
    return _guarded("start", args, _start)


def watch_command(args: argparse.Namespace) -> int:
    return _guarded("watch", args, _watch)


def _guarded(name: str, args: argparse.Namespace, body: Any) -> int:
    """User mistakes and unreachable endpoints: one line, no traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    console = Console(stderr=True)
    try:
        return int(body(args, console))
    except UsageError as error:
        return _fail(console, args, name, error="UsageError", cause=str(error), code=EXIT_USAGE)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        return _fail(console, args, name, error=code, cause=str(error), code=EXIT_FAILED)
    except BotoCoreError as error:
        return _fail(console, args, name, error=type(error).__name__, cause=str(error), code=EXIT_FAILED)
    except KeyboardInterrupt:
        console.print(f"imgpipe {name}: stopped following (the execution goes on)")
        return EXIT_FAILED


def _fail(console: Console, args: argparse.Namespace, name: str, *, error: str, cause: str, code: int) -> int:
    if args.json:
        status = "USAGE_ERROR" if code == EXIT_USAGE else "ERROR"
        print(json.dumps({"status": status, "error": error, "cause": cause}))
    console.print(f"imgpipe {name}: {cause}", highlight=False, markup=False, soft_wrap=True)
    return code


def _clients(args: argparse.Namespace) -> tuple[Any, Any]:
    return endpoint.client(args, "stepfunctions"), endpoint.client(args, "s3")


def _buckets(args: argparse.Namespace, target: Any, config: Any) -> tuple[str | None, str | None]:
    """Explicit flags first, then the stack outputs, then (for a local endpoint) the engine's names."""
    from imgpipe.local.engine import local_bucket_names

    local = local_bucket_names(config) if args.endpoint_url else (None, None)
    input_bucket = args.input_bucket or (target.input_bucket if target else None) or local[0]
    output_bucket = args.output_bucket or (target.output_bucket if target else None) or local[1]
    return input_bucket, output_bucket


def _start(args: argparse.Namespace, console: Console) -> int:
    from imgpipe.config import DeploymentConfig
    from imgpipe.local import remote
    from imgpipe.local.runner import local_source, parse_input, upload_key

    config = DeploymentConfig.from_cdk_json()
    sfn, s3 = _clients(args)
    target = _target(args, sfn, config)
    input_bucket, output_bucket = _buckets(args, target, config)

    if args.input is not None:
        if args.formats or args.sizes:
            raise UsageError("--formats/--sizes go with --image; with --input the JSON is the whole input")
        workflow_input, base = parse_input(args.input, cwd=Path.cwd())
    else:
        workflow_input = remote.build_input(
            target.workflow,
            file_location=args.image,
            formats=remote.parse_formats(args.formats) if args.formats else None,
            sizes=remote.parse_sizes(args.sizes) if args.sizes else None,
            keep_aspect=args.keep_aspect,
            config=config,
        )
        base = Path.cwd()
    source = local_source(workflow_input, base)
    if source is not None:
        if input_bucket is None:
            raise UsageError(
                f"fileLocation {str(source)!r} is a local file: give --input-bucket (or --stack-name) "
                "to upload it, or an s3:// URI"
            )
        key = upload_key(source)
        s3.put_object(Bucket=input_bucket, Key=key, Body=source.read_bytes())
        workflow_input["fileLocation"] = f"s3://{input_bucket}/{key}"

    parameters: dict[str, Any] = {
        "stateMachineArn": target.state_machine_arn,
        "input": json.dumps(workflow_input),
    }
    if args.name:
        parameters["name"] = args.name
    execution_arn: str = sfn.start_execution(**parameters)["executionArn"]
    if args.no_wait:
        print(json.dumps({"executionArn": execution_arn}) if args.json else execution_arn)
        return EXIT_OK
    if not args.json:
        console.print(f"started {execution_arn}", highlight=False)
    return _follow(
        args, console, sfn=sfn, s3=s3, execution_arn=execution_arn, output_bucket=output_bucket, config=config
    )


def _watch(args: argparse.Namespace, console: Console) -> int:
    from imgpipe.config import DeploymentConfig
    from imgpipe.local import remote

    execution_arn(args.execution_arn)
    config = DeploymentConfig.from_cdk_json()
    sfn, s3 = _clients(args)
    target = None
    if args.stack_name:
        outputs = remote.stack_outputs(_cloudformation(args), args.stack_name)
        target = remote.Target("", None, outputs.get("InputBucketName"), outputs.get("OutputBucketName"))
    _, output_bucket = _buckets(args, target, config)
    return _follow(
        args,
        console,
        sfn=sfn,
        s3=s3,
        execution_arn=args.execution_arn,
        output_bucket=output_bucket,
        config=config,
    )


def _cloudformation(args: argparse.Namespace) -> Any:
    return endpoint.client(args, "cloudformation")


def _target(args: argparse.Namespace, sfn: Any, config: Any) -> Any:
    from imgpipe.local import remote

    if args.state_machine_arn:
        if not remote.STATE_MACHINE_ARN.match(args.state_machine_arn):
            raise UsageError(f"--state-machine-arn: {args.state_machine_arn!r} is not a state machine ARN")
        workflow = args.workflow or remote.workflow_of(args.state_machine_arn, config)
        return remote.Target(args.state_machine_arn, workflow)
    if not args.workflow:
        raise UsageError("name the workflow (e.g. image_multiple_convert_resize) or give --state-machine-arn")
    if args.stack_name:
        outputs = remote.stack_outputs(_cloudformation(args), args.stack_name)
        return remote.from_stack(outputs, args.workflow, args.stack_name)
    return remote.from_name(sfn, args.workflow, config)


def _follow(
    args: argparse.Namespace,
    console: Console,
    *,
    sfn: Any,
    s3: Any,
    execution_arn: str,
    output_bucket: str | None,
    config: Any,
) -> int:
    """The same display as `imgpipe run`: live progress, then the table (or --json)."""
    from imgpipe.local.engine import wait_for_execution
    from imgpipe.local.progress import ExecutionProgress
    from imgpipe.local.report import print_result
    from imgpipe.local.runner import finish

    poll = LOCAL_POLL_SECONDS if args.endpoint_url else AWS_POLL_SECONDS
    if args.json:
        wait_for_execution(sfn, execution_arn, poll_seconds=poll)
    else:
        with ExecutionProgress(console) as progress:
            wait_for_execution(sfn, execution_arn, on_events=progress.update, poll_seconds=poll)
    out_dir = args.out or Path("out") / execution_arn.rsplit(":", 1)[-1]
    result = finish(
        sfn,
        s3 if output_bucket else None,
        execution_arn,
        output_bucket=output_bucket or "",
        output_prefix=config.outputPrefix,
        out_dir=out_dir if output_bucket else None,
    )
    if args.json:
        print(json.dumps(result.as_json(), default=str))
    else:
        hint = f" --endpoint-url {args.endpoint_url}" if args.endpoint_url else ""
        out = Console()  # the result on stdout (`> file` keeps it), progress and errors on stderr
        print_result(out, result)
        if result.status != "SUCCEEDED" and hint:
            out.print(f"  (add{hint})", highlight=False)
    sys.stdout.flush()
    return EXIT_OK if result.status == "SUCCEEDED" else EXIT_FAILED
