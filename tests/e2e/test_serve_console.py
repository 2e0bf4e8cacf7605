"""`imgpipe serve`'s console: one "upload -> execution" line per upload, even in a burst (lines were
lost when uploads were delivered while a poll printed), and nothing on the terminal after Ctrl-C
(invocations still running printed Powertools warnings and moto errors to stderr)."""

from __future__ import annotations

import argparse
import io
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from imgpipe.commands import serve

ROOT = Path(__file__).resolve().parents[2]
GUARD_SECONDS = 180  # hang guards, not performance thresholds
BURST = 50


@dataclass
class _Delivery:
    key: str
    execution_arn: str | None = "arn:aws:states:us-east-1:123456789012:execution:m:x"
    error: str | None = None
    event: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.event = {"detail": {"bucket": {"name": "in"}, "object": {"key": self.key}}}


class _DeliveredWhileRead(list[_Delivery]):
    """A delivery list to which one more upload is delivered while the follower reads it."""

    def __init__(self, *items: _Delivery, late: _Delivery) -> None:
        super().__init__(items)
        self._late: _Delivery | None = late

    def __getitem__(self, index: Any) -> Any:
        value = super().__getitem__(index)
        if isinstance(index, slice) and self._late is not None:
            self.append(self._late)
            self._late = None
        return value


class _Polls:
    """A stop event that lets the follower poll `count` times, without waiting."""

    def __init__(self, count: int) -> None:
        self._left = count

    def wait(self, _timeout: float) -> bool:
        self._left -= 1
        return self._left < 0


def test_an_upload_delivered_while_the_console_prints_is_printed_too() -> None:
    deliveries = _DeliveredWhileRead(_Delivery("uploads/a.png"), late=_Delivery("uploads/b.png"))
    server = type("Server", (), {"engine": type("Engine", (), {"trigger_deliveries": deliveries})()})()
    out = io.StringIO()
    serve._follow_triggers(server, _Polls(2), out)  # type: ignore[arg-type]
    printed = out.getvalue().splitlines()
    assert [line.split(" ")[1] for line in printed] == ["s3://in/uploads/a.png", "s3://in/uploads/b.png"]


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((16, 16)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def _read_lines_until(process: subprocess.Popen[str], count: int, lines: list[str]) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + GUARD_SECONDS
    while sum(line.startswith("upload ") for line in lines) < count:
        assert time.monotonic() < deadline, lines[-3:]
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            assert line, "imgpipe serve ended early"
            lines.append(line.rstrip("\n"))


@pytest.mark.slow
def test_a_burst_prints_every_upload_and_ctrl_c_leaves_the_terminal_quiet(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "imgpipe.cli", "serve", "--port", "0", "--json"]
    command += ["--logs", str(tmp_path / "logs.jsonl")]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        s3 = boto3.client(
            "s3",
            endpoint_url=info["endpointUrl"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        body = _tiny_png()
        keys = [f"{info['inputPrefix']}burst/{n:02d}.png" for n in range(BURST)]
        uploaders = [
            threading.Thread(
                target=s3.put_object, kwargs={"Bucket": info["inputBucket"], "Key": k, "Body": body}
            )
            for k in keys
        ]
        for uploader in uploaders:
            uploader.start()
        for uploader in uploaders:
            uploader.join(GUARD_SECONDS)
        lines: list[str] = []
        _read_lines_until(process, BURST, lines)
        process.send_signal(signal.SIGINT)  # while the burst's executions still run
        out, err = process.communicate(timeout=GUARD_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    lines += out.splitlines()
    started = [line.split(" ")[1] for line in lines if line.startswith("upload ") and " -> " in line]
    assert sorted(started) == sorted(f"s3://{info['inputBucket']}/{key}" for key in keys)
    assert process.returncode == 0, err
    assert lines[-1] == "imgpipe serve: stopped"
    assert err == ""  # no Powertools warning, moto error or traceback after Ctrl-C


def test_the_banner_says_state_is_lost_on_restart_and_it_is(tmp_path: Path) -> None:
    from imgpipe.local.server import LocalServer

    out = io.StringIO()
    with LocalServer(port=0, time_scale=0.0) as first:
        assert first.info is not None
        args = argparse.Namespace(json=False, logs=tmp_path / "l.jsonl", files_root=None)
        serve._announce(first.info, args, out)
        assert first.info.as_json()["stateInMemory"] is True
        first.engine.s3.put_object(Bucket=first.info.input_bucket, Key="local-runs/kept.txt", Body=b"x")
    assert serve.STATE_NOTICE in out.getvalue()
    with LocalServer(port=0, time_scale=0.0) as second:
        assert second.info is not None
        assert second.engine.s3.list_objects_v2(Bucket=second.info.input_bucket)["KeyCount"] == 0
