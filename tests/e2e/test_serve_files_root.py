"""`imgpipe serve` is not a file server: local paths are refused unless under --files-root."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from imgpipe.local.server import LocalServer
from tests.support import images

pytestmark = pytest.mark.slow


def _failure(server: LocalServer, location: str) -> dict[str, Any]:
    sfn = server.engine.sfn
    arn = server.engine.start_execution(
        "image_convert_resize",
        {
            "fileLocation": location,
            "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 20, "height": 20}},
        },
    )
    deadline = time.monotonic() + 120  # a hang guard, not a performance threshold
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return described


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "inside.png").write_bytes(images.rgba_png(40, 30))
    (tmp_path / "outside.png").write_bytes(images.rgba_png(40, 30))
    (root / "escape.png").symlink_to(tmp_path / "outside.png")
    return root


def test_without_a_files_root_no_local_path_is_read_and_existence_is_not_revealed(files: Path) -> None:
    with LocalServer(port=0, time_scale=0.0) as server:
        present = _failure(server, str(files / "inside.png"))
        absent = _failure(server, str(files / "nothing-here.png"))
    for described in (present, absent):
        assert described["status"] == "FAILED"
        assert described["error"] == "SourceRefusedError"
    # the same answer for a file that exists and one that does not
    assert json.loads(present["cause"])["errorMessage"] == json.loads(absent["cause"])["errorMessage"]


def test_a_files_root_allows_paths_under_it_only(files: Path) -> None:
    with LocalServer(port=0, time_scale=0.0, files_root=files) as server:
        inside = _failure(server, str(files / "inside.png"))
        dotdot = _failure(server, str(files / ".." / "outside.png"))
        symlink = _failure(server, str(files / "escape.png"))
    assert inside["status"] == "SUCCEEDED", inside.get("cause")
    for described in (dotdot, symlink):
        assert described["status"] == "FAILED"
        assert described["error"] == "SourceRefusedError"
        assert "outside the files root" in described["cause"]
