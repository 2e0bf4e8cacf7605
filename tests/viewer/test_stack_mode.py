"""`imgpipe serve --stack-name S`: the viewer over a deployed stack, tested against the local endpoint
as if it were AWS (a CloudFormation stack whose outputs name the state machines and buckets, read
with credentials from the environment). It cannot be tested against AWS here: docs/local.md says so.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from imgpipe.commands.serve import serve_command
from imgpipe.config import state_machine_output_key
from imgpipe.local.server import LocalServer
from tests.support.served import serve_in_thread

pytestmark = pytest.mark.slow

STACK = "imgpipe-viewer-test"
SHOWN = ("image_convert_resize", "image_multiple_convert_resize")


@pytest.fixture(scope="module")
def stack(server: LocalServer) -> str:
    """A stack with the outputs `cdk deploy` gives, for two of the workflows only."""
    outputs = {
        state_machine_output_key(name): {"Value": server.engine.state_machine_arn(name)} for name in SHOWN
    }
    outputs["InputBucketName"] = {"Value": server.engine.deployment.input_bucket}
    outputs["OutputBucketName"] = {"Value": server.engine.deployment.output_bucket}
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},  # a stack needs one resource
        "Outputs": outputs,
    }
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=server.endpoint_url,
        region_name=server.engine.region,
        aws_access_key_id="user",
        aws_secret_access_key="user",
    )
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return STACK


@contextmanager
def viewer_for_stack(server: LocalServer, *, read_only: bool) -> Iterator[Any]:
    args = argparse.Namespace(
        port=0,
        time_scale=1.0,
        logs=None,
        files_root=None,
        json=False,
        stack_name=STACK,
        region=server.engine.region,
        endpoint_url=server.endpoint_url,
        read_only=read_only,
    )
    with serve_in_thread(None, args) as (info, _, _):
        yield info


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's credentials, as boto3's default chain finds them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "user-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "user-secret")


def _read(url: str) -> str:
    with urllib.request.urlopen(url) as response:
        return str(response.read().decode())


def _post(url: str, form: dict[str, str], origin: str) -> int:
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(form).encode(), headers={"Origin": origin}, method="POST"
    )
    try:
        with urllib.request.urlopen(request) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_viewer_reads_the_stacks_state_machines_only(
    server: LocalServer, stack: str, credentials: None
) -> None:
    recipe = {"outputFormat": "png", "outputSize": {"width": 10, "height": 10}}
    missing = f"s3://{server.engine.deployment.input_bucket}/local-runs/none.png"
    arn = server.engine.start_execution(
        "image_convert_resize", {"fileLocation": missing, "recipeParameters": recipe}
    )
    server.engine.wait(arn)
    with viewer_for_stack(server, read_only=False) as info:
        assert info.stack_name == stack
        assert len(info.state_machines) == len(SHOWN)
        page = _read(info.viewer_url)
        listed = set(re.findall(r'<tr data-workflow="([^"]+)"', page))
        assert listed == set(SHOWN)
        assert f"stack {stack}" in page
        detail = _read(f"{info.viewer_url}execution/{arn.rsplit(':', 1)[-1]}")
        assert (
            "SourceNotFoundError" in detail
        )  # the failure, read through DescribeExecution/GetExecutionHistory
        # started from the page: the one write it makes
        token = re.search(r'name="token" value="([^"]+)"', page)
        assert token
        before = len(
            server.engine.sfn.list_executions(stateMachineArn=server.engine.state_machine_arn(SHOWN[0]))[
                "executions"
            ]
        )
        form = {
            "workflow": SHOWN[0],
            "input": json.dumps({"fileLocation": "s3://nowhere/x.png"}),
            "token": token.group(1),
        }
        assert (
            _post(f"{info.viewer_url}_viewer/start", form, info.viewer_url.rstrip("/")) == 200
        )  # followed the 303
        after = len(
            server.engine.sfn.list_executions(stateMachineArn=server.engine.state_machine_arn(SHOWN[0]))[
                "executions"
            ]
        )
        assert after == before + 1


def test_read_only_serves_no_start_or_stop(server: LocalServer, stack: str, credentials: None) -> None:
    with viewer_for_stack(server, read_only=True) as info:
        page = _read(info.viewer_url)
        assert "read-only" in page
        assert 'id="start-form"' not in page
        form = {"workflow": SHOWN[0], "input": "{}", "token": "any"}
        assert _post(f"{info.viewer_url}_viewer/start", form, info.viewer_url.rstrip("/")) == 403


def test_an_unknown_stack_is_one_line_and_exit_1(server: LocalServer, credentials: None, capsys: Any) -> None:
    args = argparse.Namespace(
        port=0,
        time_scale=1.0,
        files_root=None,
        stack_name="no-such-stack",
        region=server.engine.region,
        endpoint_url=server.endpoint_url,
        read_only=True,
    )
    assert serve_command(args, stop=threading.Event()) == 1
    assert "--stack-name no-such-stack" in capsys.readouterr().err


def test_a_state_machine_whose_executions_cannot_be_listed_is_named_not_fatal(server: LocalServer) -> None:
    """On AWS, ListExecutions refuses Express state machines; any refusal is shown, the rest listed."""
    from imgpipe.viewer.backend import Stack, ViewerBackend

    listed = server.engine.state_machine_arn("image_convert_resize")
    refused = listed.replace("image_convert_resize", "gone_workflow")
    stack = Stack(
        region=server.engine.region,
        input_bucket=None,
        output_bucket=None,
        state_machine_arns=(listed, refused),
    )
    backend = ViewerBackend.for_endpoint(server.endpoint_url, stack)
    try:
        executions, unlisted = backend.executions()
    finally:
        backend.close()
    assert {e.workflow for e in executions} <= {"image_convert_resize"}
    [note] = unlisted
    assert note.startswith("gone_workflow: ")


def test_the_index_reads_the_newest_executions_only(server: LocalServer) -> None:
    """Each row costs a GetExecutionHistory (its transitions): the page shows the newest, says so."""
    from imgpipe.viewer.backend import EXECUTIONS_SHOWN, Stack, ViewerBackend

    machine = server.engine.sfn.create_state_machine(
        name="viewer-many",
        definition=json.dumps({"StartAt": "p", "States": {"p": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    started = [
        server.engine.sfn.start_execution(stateMachineArn=machine, name=f"run-{n:03d}")["executionArn"]
        for n in range(EXECUTIONS_SHOWN + 2)
    ]
    for arn in started:
        server.engine.wait(arn)
    stack = Stack(
        region=server.engine.region, input_bucket=None, output_bucket=None, state_machine_arns=(machine,)
    )
    backend = ViewerBackend.for_endpoint(server.endpoint_url, stack)
    try:
        shown, notes = backend.executions()
    finally:
        backend.close()
    assert len(shown) == EXECUTIONS_SHOWN
    assert {e.arn for e in shown} <= set(started)
    assert all(e.transitions == 1 for e in shown)  # one Pass state entered
    assert notes == ["2 older executions (filter by workflow or status)"]


def test_two_requests_for_a_just_ended_execution_download_its_renditions_once(server: LocalServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from imgpipe.viewer.backend import Stack, ViewerBackend

    source = server.engine.deployment.input_bucket
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((50, 40)).convert("RGB").save(buffer, "PNG")
    server.engine.s3.put_object(Bucket=source, Key="local-runs/viewer/twice.png", Body=buffer.getvalue())
    arn = server.engine.start_execution(
        "image_multiple_convert_resize",
        {
            "fileLocation": f"s3://{source}/local-runs/viewer/twice.png",
            "outputFormats": ["png", "webp"],
            "outputSizes": [{"width": 20, "height": 20}],
        },
    )
    assert server.engine.wait(arn)["status"] == "SUCCEEDED"
    stack = Stack(
        region=server.engine.region, input_bucket=source, output_bucket=server.engine.deployment.output_bucket
    )
    backend = ViewerBackend.for_endpoint(server.endpoint_url, stack)
    downloads: list[str] = []
    backend.s3.meta.events.register("before-call.s3.GetObject", lambda **_: downloads.append("get"))
    try:
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(backend.execution, [arn, arn])
    finally:
        backend.close()
    assert first is second
    assert len(first.renditions) == 2
    assert len(downloads) == 2
