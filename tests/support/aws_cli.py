"""The real AWS CLI (awscli 1.x, a dev dependency) against a local endpoint, as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GUARD_SECONDS = 120  # a hang guard, not a performance threshold


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self.stderr
        return json.loads(self.stdout)


def aws(endpoint_url: str, *argv: str, home: Path) -> CliResult:
    """`aws --endpoint-url URL ARGV...` with throw-away credentials and no retries."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        "HOME": str(home),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", endpoint_url, "--output", "json", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
