"""`imgpipe serve` as a process: SIGTERM stops it as cleanly as Ctrl-C (exit 0, the "stopped" line)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
GUARD_SECONDS = 120  # a hang guard, not a performance threshold


def test_sigterm_stops_serve_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "imgpipe.cli",
            "serve",
            "--port",
            "0",
            "--json",
            "--logs",
            str(tmp_path / "l.jsonl"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], GUARD_SECONDS)
        assert ready, "imgpipe serve printed no endpoint"
        assert json.loads(process.stdout.readline())["endpointUrl"].startswith("http://127.0.0.1:")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=GUARD_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "imgpipe serve: stopped" in out
    assert "Traceback" not in err
