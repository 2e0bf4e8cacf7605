"""StartExecution through `imgpipe serve` refuses what AWS refuses, with AWS's error codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from imgpipe.local.server import LocalServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sfn_and_arn() -> Iterator[tuple[Any, str]]:
    with LocalServer(port=0, time_scale=0.0) as server:
        assert server.info is not None
        client = boto3.client("stepfunctions", endpoint_url=server.endpoint_url, region_name="us-east-1")
        yield client, server.info.state_machines["image_convert_resize"]


@pytest.mark.parametrize(
    "name", ["has space", "x" * 81, "a/b", "tab\there", "braces{}", "colon:here", "wild*card"]
)
def test_names_aws_refuses_are_invalid_name(sfn_and_arn: tuple[Any, str], name: str) -> None:
    sfn, arn = sfn_and_arn
    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
    assert raised.value.response["Error"]["Code"] == "InvalidName"


def test_input_that_is_not_json_is_invalid_execution_input(sfn_and_arn: tuple[Any, str]) -> None:
    sfn, arn = sfn_and_arn
    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=arn, input="{not json")
    assert raised.value.response["Error"]["Code"] == "InvalidExecutionInput"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_valid_name_of_80_characters_starts(sfn_and_arn: tuple[Any, str]) -> None:
    sfn, arn = sfn_and_arn
    name = "a-valid_name." + "x" * 67
    assert len(name) == 80
    started = sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
    assert started["executionArn"].endswith(f":{name}")


def test_the_name_comes_from_the_request_not_from_text_inside_the_input(sfn_and_arn: tuple[Any, str]) -> None:
    """Seed 000's image URL holds `&name=900x900`: moto read that as the execution's name."""
    sfn, arn = sfn_and_arn
    workflow_input = '{"fileLocation": "https://example.com/i?format=png&name=900x900", "x": "&input=1"}'
    started = sfn.start_execution(stateMachineArn=arn, name="named-by-the-caller", input=workflow_input)
    assert started["executionArn"].endswith(":named-by-the-caller")
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert described["input"] == workflow_input
