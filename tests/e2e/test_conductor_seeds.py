"""The seed tutorials followed literally against a real `imgpipe serve` process: their curl commands,
as the posts print them (only `http://localhost:8080` changed to the served port, and the tutorial's
image URL to an image this test generates, since tests never reach the network), register the
definitions, start both workflows and read them back in Conductor's shape; every rendition decodes."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from statemachines.project import CONDUCTOR_DIR, load_project

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "fixtures" / "seeds"
GUARD_SECONDS = 120  # hang guards for waits, not performance thresholds
SEED_HOST = "http://localhost:8080"
SEED_IMAGE = "https://pbs.twimg.com/media/FJY7ud0XEAYVCS8?format=png&name=900x900"

# The seeds' curl commands as printed. Seed 000 ("Building an Image processing workflow with Netflix
# Conductor") registers with these two with its JSON inline; seed 003 ("Dynamic forks") prints the same
# two with `<JSON HERE>` in place of the JSON.
TASKDEFS_CURL = """curl -X 'POST' \\
  'http://localhost:8080/api/metadata/taskdefs' \\
  -H 'accept: */*' \\
  -H 'Content-Type: application/json' \\
  -d '{taskdefs}'"""
WORKFLOW_CURL = """curl -X 'POST' \\
  'http://localhost:8080/api/metadata/workflow' \\
  -H 'accept: */*' \\
  -H 'Content-Type: application/json' \\
  -d ' {workflow}'
"""
SEED_000_START = """curl -X 'POST' \\
  'http://localhost:8080/api/workflow/image_convert_resize?priority=0' \\
  -H 'accept: text/plain' \\
  -H 'Content-Type: application/json' \\
  -d '{"fileLocation": "https://pbs.twimg.com/media/FJY7ud0XEAYVCS8?format=png&name=900x900",
        "recipeParameters": {
          "outputFormat": "gif",
          "outputSize": {
            "width": 300,
            "height": 300
           }
        }
      }'"""
SEED_003_START = """curl -X 'POST' \\
  'http://localhost:8080/api/workflow/image_multiple_convert_resize?priority=0' \\
  -H 'accept: text/plain' \\
  -H 'Content-Type: application/json' \\
  -d '<json>'"""


class Serve:
    """`python -m imgpipe.cli serve --port 0 --json` as a child process; Ctrl-C (SIGINT) stops it."""

    def __init__(self, logs: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.stderr = (logs.parent / "serve-stderr.txt").open("w")  # a file: a full pipe would block serve
        argv = ["serve", "--port", "0", "--json", "--time-scale", "0", "--logs", str(logs)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imgpipe.cli", *argv],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], GUARD_SECONDS)
        if not ready:
            self.process.kill()
            pytest.fail("imgpipe serve printed no endpoint")
        line = self.process.stdout.readline()  # the endpoint description, once serving
        assert line, f"imgpipe serve ended early: {(logs.parent / 'serve-stderr.txt').read_text()}"
        self.info = json.loads(line)
        self.url: str = self.info["endpointUrl"]

    def curl(self, command: str) -> tuple[int, str, str]:
        """Run a seed's curl command with the host changed; returns (HTTP status, content type, body)."""
        assert SEED_HOST in command
        served = command.replace(SEED_HOST, self.url)
        written = f"{served.rstrip()} -sS -o /dev/stdout -w '\\n%{{http_code}} %{{content_type}}'"
        result = subprocess.run(
            ["bash", "-c", written], capture_output=True, text=True, timeout=GUARD_SECONDS, check=False
        )
        assert result.returncode == 0, result.stderr
        body, _, trailer = result.stdout.rpartition("\n")
        status, _, content_type = trailer.partition(" ")
        return int(status), content_type, body

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1")  # type: ignore[call-overload]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(GUARD_SECONDS)
        finally:
            self.stderr.close()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    served = Serve(tmp_path_factory.mktemp("serve") / "worker-logs.jsonl")
    try:
        yield served
    finally:
        assert served.stop() == 0


def _source_image(serve: Serve, name: str) -> str:
    """The tutorial's 900x900 PNG, generated, in the local input bucket (outside the trigger prefix)."""
    image = Image.linear_gradient("L").resize((900, 900)).convert("RGB")
    image.paste((30, 120, 200), (0, 0, 450, 450))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    key = f"local-runs/seeds/{name}.png"
    serve.client("s3").put_object(Bucket=serve.info["inputBucket"], Key=key, Body=buffer.getvalue())
    return f"s3://{serve.info['inputBucket']}/{key}"


def _wait(serve: Serve, workflow_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + GUARD_SECONDS
    command = f"curl '{SEED_HOST}/api/workflow/{workflow_id}?includeTasks=true'"
    while True:
        status, content_type, body = serve.curl(command)
        assert status == 200, body
        assert content_type.startswith("application/json")
        document: dict[str, Any] = json.loads(body)
        if document["status"] != "RUNNING":
            return document
        assert time.monotonic() < deadline, f"{workflow_id} still RUNNING"
        time.sleep(0.2)


def _decode(serve: Serve, location: str) -> Image.Image:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    body = serve.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def _translate_cli(
    tmp_path: Path, task_defs: list[dict[str, Any]], workflow_text: str
) -> tuple[int, list[dict[str, str]]]:
    """`imgpipe translate` on the same definitions the server holds: exit code and diagnostics (--json)."""
    (tmp_path / "tasks").mkdir()
    for task_def in task_defs:
        (tmp_path / "tasks" / f"{task_def['name']}.json").write_text(json.dumps(task_def))
    (tmp_path / "translator.json").write_text((CONDUCTOR_DIR / "translator.json").read_text())
    (tmp_path / "workflow.json").write_text(workflow_text)
    result = subprocess.run(
        [sys.executable, "-m", "imgpipe.cli", "translate", str(tmp_path / "workflow.json"), "--json"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
        check=False,
    )
    findings = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return result.returncode, [
        {"severity": f["severity"], "path": f["location"], "message": f["message"]} for f in findings
    ]


def _translate_cli_errors(
    tmp_path: Path, task_defs: list[dict[str, Any]], workflow_text: str
) -> list[dict[str, str]]:
    """`imgpipe translate`'s error diagnostics for definitions it refuses (exit 1)."""
    code, findings = _translate_cli(tmp_path, task_defs, workflow_text)
    assert code == 1
    return [{"path": f["path"], "message": f["message"]} for f in findings if f["severity"] == "error"]


def _served_task_defs(serve: Serve) -> list[dict[str, Any]]:
    status, _, body = serve.curl(f"curl '{SEED_HOST}/api/metadata/taskdefs'")
    assert status == 200
    listed: list[dict[str, Any]] = json.loads(body)
    return listed


def _refused(body: str) -> list[dict[str, str]]:
    document = json.loads(body)
    assert document["status"] == 400
    assert document["message"] == "Validation failed, check below errors for detail."
    return [{"path": e["path"], "message": e["message"]} for e in document["validationErrors"]]


def test_seed_000_step_by_step(serve: Serve, tmp_path: Path) -> None:
    taskdefs = (SEEDS / "000" / "taskdefs_payload.json").read_text().rstrip("\n")
    assert serve.curl(TASKDEFS_CURL.replace("{taskdefs}", taskdefs))[0] == 200

    workflow = (SEEDS / "000" / "curl" / "image_convert_resize.json").read_text().strip()
    status, content_type, body = serve.curl(WORKFLOW_CURL.replace("{workflow}", workflow))
    assert (status, content_type) == (400, "application/json")
    refused = _refused(body)
    assert [e["path"] for e in refused] == ["tasks[1].name"]
    assert "'image_toS3'" in refused[0]["message"]
    assert "no worker" in refused[0]["message"]
    # Conductor accepts it (its default task definition) and so does the translator, saying so at the
    # same task; what the local runtime lacks is a worker for it
    code, findings = _translate_cli(tmp_path, _served_task_defs(serve), workflow)
    assert code == 0
    [note] = [f for f in findings if f["path"] == "tasks[1].name" and "'image_toS3'" in f["message"]]
    assert note["severity"] == "warning"
    assert "Conductor's default definition" in note["message"]
    assert json.loads(body)["validationErrors"][0]["invalidValue"] == "image_toS3"

    # The project's copy fixes the defect, and is already registered under the tutorial's name.
    fixed = (CONDUCTOR_DIR / "workflows" / "image_convert_resize.json").read_text()
    assert serve.curl(WORKFLOW_CURL.replace("{workflow}", fixed.strip()))[0] == 200

    start = SEED_000_START.replace(SEED_IMAGE, _source_image(serve, "seed000"))
    status, content_type, workflow_id = serve.curl(start)
    assert (status, content_type.split(";")[0]) == (200, "text/plain")
    document = _wait(serve, workflow_id)
    assert document["status"] == "COMPLETED", document.get("reasonForIncompletion")
    assert document["workflowId"] == workflow_id
    assert document["workflowName"] == "image_convert_resize"
    tasks = [(t["referenceTaskName"], t["taskType"], t["status"]) for t in document["tasks"]]
    assert tasks == [
        ("image_convert_resize_ref", "image_convert_resize", "COMPLETED"),
        ("upload_toS3_ref", "upload_toS3", "COMPLETED"),
    ]
    assert document["tasks"][0]["inputData"]["outputFormat"] == "gif"
    rendition = _decode(serve, document["output"]["fileLocation"])
    assert rendition.format == "GIF"
    assert rendition.size == (300, 300)
    assert document["tasks"][1]["outputData"]["fileLocation"] == document["output"]["fileLocation"]

    status, content_type, page = serve.curl(f"curl '{SEED_HOST}/execution/{workflow_id}'")
    assert (status, content_type.split(";")[0]) == (200, "text/html")
    assert "COMPLETED" in page


def test_seed_003_step_by_step(serve: Serve, tmp_path: Path) -> None:
    # "copy the files from GitHub": the planner's definition from this post, the resize one from seed 000
    planner = (SEEDS / "003" / "tasks" / "image_multiple_convert_resize.json").read_text().strip()
    resize = (SEEDS / "000" / "tasks" / "image_convert_resize.json").read_text().strip()
    assert serve.curl(TASKDEFS_CURL.replace("{taskdefs}", f"[\n{planner},\n{resize}\n     ]"))[0] == 200

    workflow = (SEEDS / "003" / "workflows" / "image_multiple_convert_resize.json").read_text().strip()
    status, _, body = serve.curl(WORKFLOW_CURL.replace("{workflow}", workflow))
    assert status == 400
    refused = _refused(body)
    assert refused == _translate_cli_errors(tmp_path, _served_task_defs(serve), workflow)
    assert [e["path"] for e in refused] == ["outputParameters.fileLocations"]
    assert "image_convert_resize_ref" in refused[0]["message"]

    seed_input = json.loads((SEEDS / "003" / "input.json").read_text())
    body_text = (
        (SEEDS / "003" / "input.json").read_text().replace(SEED_IMAGE, _source_image(serve, "seed003"))
    )
    status, _, workflow_id = serve.curl(SEED_003_START.replace("<json>", body_text))
    assert status == 200
    document = _wait(serve, workflow_id)
    assert document["status"] == "COMPLETED", document.get("reasonForIncompletion")
    types = [t["taskType"] for t in document["tasks"]]
    assert types == [
        "image_multiple_convert_resize",
        "FORK_JOIN_DYNAMIC",
        *["image_convert_resize"] * 9,
        "JOIN",
    ]
    assert all(t["status"] == "COMPLETED" for t in document["tasks"])
    expected = [
        f"image_convert_resize_{fmt}_{size['width']}x{size['height']}_{index}"
        for index, (fmt, size) in enumerate(
            (fmt, size) for fmt in seed_input["outputFormats"] for size in seed_input["outputSizes"]
        )
    ]
    assert [t["referenceTaskName"] for t in document["tasks"][2:11]] == expected  # plan order
    assert [t["seq"] for t in document["tasks"]] == list(range(1, 13))
    renditions = document["output"]["fileLocations"]
    assert list(renditions) == expected
    assert document["tasks"][11]["outputData"] == renditions  # the JOIN's output
    pillow_format = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}
    for reference, output in renditions.items():
        image = _decode(serve, output["fileLocation"])
        fmt = reference.split("_")[3]
        assert image.format == pillow_format[fmt]
        assert image.size == (output["outputWidth"], output["outputHeight"])


def test_project_workflows_are_registered_from_the_start(serve: Serve) -> None:
    status, _, body = serve.curl(f"curl '{SEED_HOST}/api/metadata/workflow'")
    assert status == 200
    assert {w["name"] for w in json.loads(body)} >= set(load_project().workflows)
    status, _, body = serve.curl(f"curl -X 'PUT' '{SEED_HOST}/api/workflow/abc/pause'")
    assert status == 501
    assert "pause" in json.loads(body)["message"]
    # The AWS endpoint on the same port still answers signed requests, whatever the path.
    listed = serve.client("stepfunctions").list_state_machines()["stateMachines"]
    assert {m["stateMachineArn"] for m in listed} >= set(serve.info["stateMachines"].values())
    assert serve.info["conductorApiUrl"] == f"{serve.url}/api"
