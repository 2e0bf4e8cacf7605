"""What every command that calls Step Functions shares: the endpoint (AWS, or `imgpipe serve`), the
region, and the check of an execution ARN given on the command line."""

from __future__ import annotations

import argparse
from typing import Any

from imgpipe.local.remote import EXECUTION_ARN
from imgpipe.local.runner import UsageError

ENDPOINT_HELP = "an endpoint instead of AWS, e.g. imgpipe serve's URL"
REGION_HELP = "AWS region (default: from the environment; with --endpoint-url, imgpipe serve's region)"


def add_endpoint_arguments(parser: argparse.ArgumentParser, endpoint: Any = None) -> None:
    """`--endpoint-url` (on `endpoint`, a mutually exclusive group, when given) and `--region`."""
    (endpoint or parser).add_argument("--endpoint-url", help=ENDPOINT_HELP)
    parser.add_argument("--region", help=REGION_HELP)


def session(args: argparse.Namespace) -> Any:
    """A boto3 session in the region asked for; at an endpoint without one, the region `imgpipe serve`
    answers in, whatever the environment says (its ARNs name that region)."""
    import boto3

    from imgpipe.local.lambda_seam import DEFAULT_REGION

    return boto3.session.Session(region_name=args.region or (DEFAULT_REGION if args.endpoint_url else None))


def client(args: argparse.Namespace, service: str) -> Any:
    return session(args).client(service, endpoint_url=args.endpoint_url)


def execution_arn(text: str) -> str:
    """`text` if it is a Step Functions execution ARN; else a UsageError saying what one looks like."""
    if not EXECUTION_ARN.match(text):
        shape = "arn:aws:states:<region>:<account>:execution:<state machine>:<name>"
        raise UsageError(f"{text!r} is not an execution ARN ({shape})")
    return text
