"""`imgpipe run`: a project workflow (or any Conductor workflow file) executed by the local engine."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

from rich.console import Console

from imgpipe.local.runner import UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a workflow locally (no AWS account): the deployed ASL, the deployed handlers",
        description="Run a workflow in the local engine and download its renditions.",
    )
    parser.add_argument("workflow", help="a project workflow name, or a path to a Conductor workflow JSON")
    parser.add_argument("--input", required=True, help="workflow input: JSON text or @file.json")
    parser.add_argument("--out", type=Path, help="where renditions go (default ./out/<execution>/)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, whatever the outcome")
    parser.add_argument("--history", type=Path, help="also write the execution history to this file")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply Retry/Wait delays (1.0 = as deployed; 0 = no waiting)",
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    try:
        return _run(args, console)
    except UsageError as error:
        if args.json:
            print(json.dumps({"status": "USAGE_ERROR", "error": "UsageError", "cause": str(error)}))
        console.print(f"imgpipe run: {error}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_USAGE


def _run(args: argparse.Namespace, console: Console) -> int:
    from imgpipe.local import history as history_export
    from imgpipe.local import logs
    from imgpipe.local.engine import EngineError, LocalAws, UnknownWorkflowError
    from imgpipe.local.progress import ExecutionProgress
    from imgpipe.local.report import print_result
    from imgpipe.local.runner import finish, local_source, parse_input, upload_key
    from imgpipe.local.workflows import translate_workflow_file_with_children

    if args.time_scale < 0:
        raise UsageError("--time-scale: must be zero or more")
    workflow_input, base = parse_input(args.input, cwd=Path.cwd())
    source = local_source(workflow_input, base)
    translated, children = None, []
    workflow = args.workflow
    if workflow.endswith(".json") or Path(workflow).is_file():
        *children, translated = translate_workflow_file_with_children(Path(workflow))
        workflow = translated.name
    execution_name = f"run-{uuid.uuid4().hex[:12]}"
    out_dir = args.out or Path("out") / execution_name
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "worker-logs.jsonl"

    # Workers log JSON (Powertools) to stdout: keep stdout for the result, the logs in a file.
    with logs.captured(log_path):
        try:
            engine = LocalAws(time_scale=args.time_scale)
            with engine as aws:
                for child in children:  # its sibling children; imgpipe's own are deployed already
                    if child.name not in aws.deployment.state_machine_arns:
                        aws.add_workflow(child)
                if translated is not None and not aws.deploys(translated):
                    aws.add_workflow(translated)
                aws.state_machine_arn(workflow)  # unknown names fail before anything starts
                if source is not None:
                    workflow_input["fileLocation"] = aws.upload_file(source, key=upload_key(source))
                arn = aws.start_execution(workflow, workflow_input, name=execution_name)
                if args.json:
                    aws.wait(arn)
                else:
                    with ExecutionProgress(console) as progress:
                        aws.wait(arn, on_events=progress.update)
                result = finish(
                    aws.sfn,
                    aws.s3,
                    arn,
                    output_bucket=aws.deployment.output_bucket,
                    output_prefix=aws.config.outputPrefix,
                    out_dir=out_dir,
                )
                history_export.write(out_dir / "history.json", result.histories)
                if args.history:
                    history_export.write(args.history, result.histories)
        except UnknownWorkflowError as error:
            raise UsageError(str(error)) from error
        except EngineError as error:
            raise UsageError(str(error)) from error
    if args.json:
        print(json.dumps(result.as_json(), default=str))
    else:
        # the result on stdout (`> file` keeps it), progress and errors on stderr
        print_result(Console(), result, history_file=out_dir / "history.json")
    return EXIT_OK if result.status == "SUCCEEDED" else EXIT_FAILED
