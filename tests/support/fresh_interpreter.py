"""Run Python code in a fresh interpreter of this venv.

What a module imports at init, or what stays unloaded, cannot be observed in the test process, where
other tests have imported everything already. The environment is exactly `env` (nothing inherited),
so each probe states the Lambda-like variables it runs under.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_fresh(code: str, env: Mapping[str, str], *, cwd: Path = REPO_ROOT) -> str:
    """stdout of `python -c code`; a non-zero exit fails the test with the child's stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "", **env},
        cwd=cwd,
    )
    if done.returncode != 0:
        raise AssertionError(f"fresh interpreter exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout
