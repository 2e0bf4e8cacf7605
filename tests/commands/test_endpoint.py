"""The endpoint, region and execution-ARN handling every Step Functions command shares."""

from __future__ import annotations

import pytest

from imgpipe.cli import build_parser, main

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:image_multiple_convert_resize:run-1"
NOT_EXECUTIONS = [
    "arn:aws:s3:::input-bucket",  # an ARN, but not an execution's
    "arn:aws:states:eu-west-1:123456789012:stateMachine:image_multiple_convert_resize",
    "run-1",
]
COMMANDS = [
    ["history", "{arn}"],
    ["complete", "resize_ref", "--execution", "{arn}"],
    ["watch", "{arn}"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("arn", NOT_EXECUTIONS)
def test_a_value_that_is_not_an_execution_arn_is_a_usage_error_before_any_call(
    command: list[str], arn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # an unreachable endpoint: reaching it would be a connection error (exit 1), not a usage error
    argv = [part.format(arn=arn) for part in command] + ["--endpoint-url", "http://127.0.0.1:9"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{arn!r} is not an execution ARN" in err
    assert "execution:<state machine>:<name>" in err


@pytest.mark.parametrize(
    "command", [*COMMANDS, ["start", "wf", "--input", "{{}}"], ["backfill", "--prefix", "p/"]]
)
def test_every_step_functions_command_takes_the_same_endpoint_and_region_options(command: list[str]) -> None:
    argv = [part.format(arn=EXECUTION) for part in command]
    args = build_parser().parse_args(
        [*argv, "--endpoint-url", "http://localhost:4566", "--region", "eu-west-1"]
    )
    assert (args.endpoint_url, args.region) == ("http://localhost:4566", "eu-west-1")


@pytest.mark.parametrize(
    ("endpoint_url", "region", "expected"),
    [
        ("http://localhost:4566", None, "us-east-1"),  # imgpipe serve's region, not the environment's
        ("http://localhost:4566", "ap-south-1", "ap-south-1"),
        (None, None, "eu-west-1"),  # AWS: the environment's
        (None, "ap-south-1", "ap-south-1"),
    ],
)
def test_the_region_is_the_one_asked_for_else_serves_at_an_endpoint_else_the_environments(
    endpoint_url: str | None, region: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgpipe.commands import endpoint
    from imgpipe.local.lambda_seam import DEFAULT_REGION

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    args = build_parser().parse_args(
        ["history", EXECUTION]
        + (["--endpoint-url", endpoint_url] if endpoint_url else [])
        + (["--region", region] if region else [])
    )
    client = endpoint.client(args, "stepfunctions")
    assert client.meta.region_name == expected
    assert DEFAULT_REGION == "us-east-1"
