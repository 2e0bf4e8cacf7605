"""A local `imgpipe serve` (LocalServer) and headless Chromium driven by Selenium, for the viewer tests.

Chromium and its driver are Debian's (`chromium`, `chromium-driver`: `make test` installs them, as
`make verify-bundle` installs qemu), so the driver always matches the browser and nothing is
downloaded at test time (Selenium Manager is never asked: the driver's path is given).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imgpipe.local.server import LocalServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
GUARD_SECONDS = 120  # hang guard for waits in the browser, not a performance threshold
DOCS = Path(__file__).resolve().parents[2] / "docs"
# The browser tests always take their screenshots; into docs/ (tracked files) only when asked.
SCREENSHOTS_TO_DOCS = "IMGPIPE_VIEWER_SCREENSHOTS"

# Two workflows that hold an execution RUNNING for as long as a test needs (Conductor WAIT tasks,
# registered through Conductor's API on the same port, as a user of the seeds would).
WAIT_SHORT = "viewer_wait_short"
WAIT_LONG = "viewer_wait_long"


def waiting_workflow(name: str, duration: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "hold",
                "taskReferenceName": "hold_ref",
                "type": "WAIT",
                "inputParameters": {"duration": duration},
            }
        ],
        "outputParameters": {},
        "schemaVersion": 2,
    }


def post_json(url: str, body: Any) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request) as response:
        return int(response.status)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(port=0, time_scale=1.0) as served:
        for name, duration in ((WAIT_SHORT, "3 seconds"), (WAIT_LONG, "1 hour")):
            assert (
                post_json(f"{served.endpoint_url}/api/metadata/workflow", waiting_workflow(name, duration))
                == 200
            )
        yield served


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/ with IMGPIPE_VIEWER_SCREENSHOTS=1 (docs/local.md shows them), else a temporary directory."""
    if os.environ.get(SCREENSHOTS_TO_DOCS) == "1":
        return DOCS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(
            "headless Chromium is needed: `make test` installs Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--disable-extensions",
        "--no-first-run",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(GUARD_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
