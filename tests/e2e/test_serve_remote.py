"""`imgpipe serve` in a background thread, driven over loopback HTTP: the S3 trigger through the
endpoint, `imgpipe start`/`watch` with `--endpoint-url`, and `imgpipe history`. Every rendition is
downloaded and decoded."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from imgpipe.cli import main
from imgpipe.commands.serve import serve_command
from imgpipe.config import DeploymentConfig
from lambdas.adapters import s3 as s3_adapter
from lambdas.core.keys import MANIFEST_NAME
from tests.support.served import serve_in_thread

pytestmark = pytest.mark.slow

GUARD_SECONDS = 120  # hang guards for waits, not performance thresholds
CONFIG = DeploymentConfig.from_cdk_json()


class Served:
    def __init__(self, info: Any, stop: threading.Event, thread: threading.Thread, logs: Path) -> None:
        self.info = info
        self.stop = stop
        self.thread = thread
        self.logs = logs
        self.url: str = info.endpoint_url

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1")  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    logs = tmp_path_factory.mktemp("serve") / "worker-logs.jsonl"
    with serve_in_thread(logs) as (info, stop, thread):
        yield Served(info, stop, thread, logs)


def _png(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((200, 50, 50), (0, 0, size[0] // 2, size[1] // 2))
    image.save(path, "PNG")
    return path


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    # The server runs in this process, so its workers' stdout (JSON logs, EMF metrics) lands in the
    # same capture; the command's own output is its last line, one JSON object.
    return code, json.loads(out.strip().splitlines()[-1])


def _decoded(rendition: dict[str, Any]) -> Image.Image:
    image = Image.open(rendition["path"])
    image.load()
    assert image.format == rendition["format"]
    assert image.size == (rendition["width"], rendition["height"])
    assert Path(rendition["path"]).stat().st_size == rendition["bytes"]
    return image


def test_serve_exposes_the_deployed_names(served: Served) -> None:
    info = served.info
    assert info.endpoint_url.startswith("http://127.0.0.1:")
    names = {arn.rsplit(":", 1)[1] for arn in info.state_machines.values()}
    assert CONFIG.state_machine_name(CONFIG.triggerWorkflow) in names
    listed = served.client("stepfunctions").list_state_machines()["stateMachines"]
    assert {machine["name"] for machine in listed} == names
    assert info.input_bucket in {b["Name"] for b in served.client("s3").list_buckets()["Buckets"]}


def test_put_object_through_the_endpoint_triggers_the_workflow(served: Served, tmp_path: Path) -> None:
    s3, sfn = served.client("s3"), served.client("stepfunctions")
    trigger_arn = served.info.state_machines[CONFIG.triggerWorkflow]
    before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=trigger_arn)["executions"]}
    key = f"{served.info.input_prefix}served/photo.png"
    s3.put_object(Bucket=served.info.input_bucket, Key=key, Body=_png(tmp_path / "p.png").read_bytes())
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        executions = sfn.list_executions(stateMachineArn=trigger_arn)["executions"]
        new = [e for e in executions if e["executionArn"] not in before]
        if new and new[0]["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline, "the upload started no execution, or it hangs"
        time.sleep(0.1)
    assert len(new) == 1
    described = sfn.describe_execution(executionArn=new[0]["executionArn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    named = s3_adapter.parse_s3_uri(json.loads(described["input"])["fileLocation"])
    assert (named.bucket, named.key) == (served.info.input_bucket, key)
    assert named.version_id  # the event form names the version uploaded
    listed = s3.list_objects_v2(Bucket=served.info.output_bucket, Prefix=f"{CONFIG.outputPrefix}photo/")
    formats = set()
    for obj in listed.get("Contents", []):
        if obj["Key"].endswith(f"/{MANIFEST_NAME}"):  # a manifest, when the recipe asks for one
            continue
        body = s3.get_object(Bucket=served.info.output_bucket, Key=obj["Key"])["Body"].read()
        with Image.open(io.BytesIO(body)) as image:
            image.load()
            formats.add(image.format)
            assert max(image.size) <= max(max(s.width, s.height) for s in CONFIG.defaultRecipe.outputSizes)
    expected = {"webp": "WEBP", "jpg": "JPEG"}
    assert formats == {expected[f] for f in CONFIG.defaultRecipe.outputFormats}
    # every rendition, and the manifest when the trigger's recipe asks for one (cdk.json does not)
    manifests = 1 if (CONFIG.defaultRecipe.model_extra or {}).get("writeManifest", True) else 0
    assert (
        len(listed["Contents"])
        == len(CONFIG.defaultRecipe.outputFormats) * len(CONFIG.defaultRecipe.outputSizes) + manifests
    )


def test_start_builds_the_seed_input_from_flags_and_downloads_every_rendition(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _png(tmp_path / "local.png", (900, 600))
    before = source.read_bytes()
    code, result = _cli(
        capsys,
        "start",
        "image_multiple_convert_resize",
        "--endpoint-url",
        served.url,
        "--image",
        str(source),
        "--formats",
        "png,jpg,webp",
        "--sizes",
        "300x300,200x200",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert code == 0, result
    assert result["status"] == "SUCCEEDED"
    seen = sorted((r["format"], r["width"], r["height"]) for r in result["renditions"])
    assert seen == sorted(
        (fmt, w, h) for fmt in ("PNG", "JPEG", "WEBP") for (w, h) in ((300, 200), (200, 133))
    )
    for rendition in result["renditions"]:
        _decoded(rendition)
        assert Path(rendition["path"]).is_relative_to(tmp_path / "out")
    # one planner attempt, one resize attempt per rendition (Map iterations): no retries
    assert sorted(result["stateAttempts"].values()) == [1, 6]
    assert source.read_bytes() == before
    described = served.client("stepfunctions").describe_execution(executionArn=result["executionArn"])
    assert json.loads(described["input"])["outputSizes"] == [
        {"width": 300, "height": 300},
        {"width": 200, "height": 200},
    ]


def test_start_no_wait_then_watch_follows_the_execution(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = served.client("s3")
    s3.put_object(
        Bucket=served.info.input_bucket, Key="elsewhere/w.png", Body=_png(tmp_path / "w.png").read_bytes()
    )
    code, started = _cli(
        capsys,
        "start",
        "image_convert_resize",
        "--endpoint-url",
        served.url,
        "--image",
        f"s3://{served.info.input_bucket}/elsewhere/w.png",
        "--formats",
        "gif",
        "--sizes",
        "160x160",
        "--no-keep-aspect",
        "--no-wait",
        "--json",
    )
    assert code == 0
    arn = started["executionArn"]
    assert ":execution:imgpipe-image_convert_resize:" in arn
    code, result = _cli(
        capsys, "watch", arn, "--endpoint-url", served.url, "--out", str(tmp_path / "w"), "--json"
    )
    assert code == 0, result
    assert result["executionArn"] == arn
    [rendition] = result["renditions"]
    image = _decoded(rendition)
    assert image.format == "GIF"
    assert image.size == (160, 160)  # --no-keep-aspect stretches to the box
    # without --json: the result table on stdout (so `> file` keeps it), the progress on stderr
    assert main(["watch", arn, "--endpoint-url", served.url, "--out", str(tmp_path / "w2")]) == 0
    shown = capsys.readouterr()
    assert "Renditions" in shown.out
    assert "SUCCEEDED" in shown.out
    assert "Renditions" not in shown.err


def test_start_a_sub_workflow_workflow_and_export_its_history(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = served.info.state_machines["image_multiple_convert_resize_upload"]
    workflow_input = {
        "fileLocation": str(_png(tmp_path / "h.png")),
        "outputFormats": ["jpg"],
        "outputSizes": [{"width": 100, "height": 100}, {"width": 50, "height": 50}],
    }
    code, result = _cli(
        capsys,
        "start",
        "--state-machine-arn",
        arn,
        "--endpoint-url",
        served.url,
        "--input",
        json.dumps(workflow_input),
        "--input-bucket",
        served.info.input_bucket,
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert code == 0, result
    assert sorted((r["width"], r["height"]) for r in result["renditions"]) == [(50, 38), (100, 75)]
    for rendition in result["renditions"]:
        _decoded(rendition)
    history_file = tmp_path / "history.json"
    argv = ["history", result["executionArn"], "--endpoint-url", served.url, "--out", str(history_file)]
    assert main(argv) == 0
    exported = json.loads(history_file.read_text())["executions"]
    assert exported[0]["executionArn"] == result["executionArn"]
    children = [e["executionArn"] for e in exported[1:]]
    assert len(children) == 2  # one child execution per rendition
    assert all(":execution:imgpipe-image_resize_upload:" in child for child in children)
    assert exported[0]["events"][0]["type"] == "ExecutionStarted"
    assert exported[0]["events"][-1]["type"] == "ExecutionSucceeded"


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_start_finds_the_state_machine_and_buckets_in_the_stack_outputs(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack with the outputs infra/stack.py declares (created in moto's CloudFormation)."""
    outputs = {
        "InputBucketName": {"Value": served.info.input_bucket},
        "OutputBucketName": {"Value": served.info.output_bucket},
    }
    for workflow, arn in served.info.state_machines.items():
        outputs[f"StateMachineArn{workflow.replace('_', '')}"] = {"Value": arn}
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    served.client("cloudformation").create_stack(StackName="imgpipe-e2e", TemplateBody=json.dumps(template))
    code, result = _cli(
        capsys,
        "start",
        "image_resize_upload",
        "--stack-name",
        "imgpipe-e2e",
        "--endpoint-url",
        served.url,
        "--image",
        str(_png(tmp_path / "st.png")),
        "--formats",
        "webp",
        "--sizes",
        "64x64",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert code == 0, result
    assert ":execution:imgpipe-image_resize_upload:" in result["executionArn"]
    [rendition] = result["renditions"]
    assert _decoded(rendition).size == (64, 48)
    code, watched = _cli(
        capsys,
        "watch",
        result["executionArn"],
        "--stack-name",
        "imgpipe-e2e",
        "--endpoint-url",
        served.url,
        "--out",
        str(tmp_path / "w"),
        "--json",
    )
    assert code == 0
    assert [r["key"] for r in watched["renditions"]] == [rendition["key"]]
    assert (
        main(["start", "nope", "--stack-name", "imgpipe-e2e", "--endpoint-url", served.url, "--image", "x"])
        == 2
    )
    assert "StateMachineArnnope" in capsys.readouterr().err


def test_a_bad_recipe_through_start_fails_with_the_worker_error_and_one_attempt(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow_input = {
        "fileLocation": str(_png(tmp_path / "b.png")),
        "recipeParameters": {"outputFormat": "jpg", "outputSize": {"width": 0, "height": 100}},
    }
    code, result = _cli(
        capsys,
        "start",
        "image_convert_resize",
        "--endpoint-url",
        served.url,
        "--input",
        json.dumps(workflow_input),
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert code == 1
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidRecipeError"
    assert result["stateAttempts"][result["failedState"]] == 1
    assert result["renditions"] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["start", "no_such_workflow", "--image", "s3://b/k.png"], "unknown workflow"),
        (
            ["start", "image_multiple_convert_resize", "--image", "s3://b/k.png", "--sizes", "300"],
            "WIDTHxHEIGHT",
        ),
        (
            ["start", "image_convert_resize", "--image", "s3://b/k.png", "--formats", "png,jpg"],
            "exactly one --formats",
        ),
        (["start", "image_convert_resize", "--input", "{nope"], "not valid JSON"),
        (["watch", "not-an-arn"], "not an execution ARN"),
        (["start", "--state-machine-arn", "arn:nope", "--image", "s3://b/k.png"], "not a state machine ARN"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(
    served: Served, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--endpoint-url", served.url]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_serve_on_a_taken_port_fails_with_a_clear_message(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    args = argparse.Namespace(port=port, time_scale=0.0, logs=tmp_path / "l.jsonl", json=False)
    assert serve_command(args, stop=threading.Event()) == 1
    assert f"127.0.0.1:{port}" in capsys.readouterr().err


def test_ctrl_c_stops_serve_cleanly(tmp_path: Path) -> None:
    """A real process: SIGINT (Ctrl-C) ends it with exit 0, a 'stopped' line and no traceback."""
    command = [sys.executable, "-m", "imgpipe.cli", "serve", "--port", "0", "--json"]
    command += ["--logs", str(tmp_path / "logs.jsonl")]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        info = json.loads(first)
        assert info["endpointUrl"].startswith("http://127.0.0.1:")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=GUARD_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err
