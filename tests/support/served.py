"""`imgpipe serve` in a background thread of the test process, until the block ends."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from imgpipe.commands.serve import serve_command

GUARD_SECONDS = 120  # hang guard for start and stop, not a performance threshold


@contextmanager
def serve_in_thread(
    logs: Path | None, args: argparse.Namespace | None = None
) -> Iterator[tuple[Any, threading.Event, threading.Thread]]:
    """Yield (ServerInfo, stop event, thread); on exit stop the server and check it ended cleanly.
    `args`: other `imgpipe serve` arguments than the local engine's defaults."""
    args = args or argparse.Namespace(port=0, time_scale=0.0, logs=logs, json=True)
    stop = threading.Event()
    ready: list[Any] = []
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(serve_command(args, stop=stop, on_ready=ready.append)), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + GUARD_SECONDS
    while not ready:
        assert thread.is_alive(), f"imgpipe serve ended early with {result}"
        assert time.monotonic() < deadline, "imgpipe serve did not start"
        time.sleep(0.05)
    yield ready[0], stop, thread
    stop.set()
    thread.join(GUARD_SECONDS)
    assert not thread.is_alive()
    assert result == [0]
