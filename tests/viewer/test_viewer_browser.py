"""The execution viewer in a real browser (headless Chromium): what a user of `imgpipe serve` sees.

Start the dynamic fork from the page with an uploaded image and watch it succeed, open a state's
output, see the nine renditions; watch a running execution turn green by itself; stop one; a
failed execution opens on its failing state with the worker's typed error; a hostile object key and
error cause render as text. Screenshots of the pages: IMGPIPE_VIEWER_SCREENSHOTS=1 writes them to docs/
(docs/local.md shows them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from imgpipe.local.server import LocalServer
from tests.viewer.conftest import GUARD_SECONDS, WAIT_LONG, WAIT_SHORT

pytestmark = pytest.mark.slow

DYNAMIC_FORK = "image_multiple_convert_resize"
HOSTILE = "<img src=x onerror=alert(1)>"


def _image(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """A generated photo-like gradient (no third-party pixels)."""
    gradient = Image.linear_gradient("L").resize(size)
    Image.merge("RGB", (gradient, gradient.rotate(90).resize(size), gradient.transpose(0))).save(path, "PNG")
    return path


def _wait(driver: Any, condition: Any, message: str) -> Any:
    """Until `condition` holds; the page reloads itself when the execution ends (stale elements)."""
    ignored = (StaleElementReferenceException, NoSuchElementException)
    return WebDriverWait(driver, GUARD_SECONDS, poll_frequency=0.1, ignored_exceptions=ignored).until(
        condition, message
    )


def _status(driver: Any) -> str:
    return str(driver.find_element(By.ID, "execution-status").text)


def _node(driver: Any, label: str) -> Any:
    """The graph node of the execution page labelled `label`."""
    found = driver.find_elements(By.CSS_SELECTOR, f'#graph svg.graph g.node[data-label="{label}"]')
    assert len(found) == 1, f"{len(found)} nodes labelled {label!r} in the graph"
    return found[0]


def _classes(element: Any) -> set[str]:
    return set((element.get_attribute("class") or "").split())


def _start_from_page(
    driver: Any,
    server: LocalServer,
    workflow: str,
    *,
    image: Path | None = None,
    workflow_input: dict[str, Any] | None = None,
) -> str:
    driver.get(f"{server.endpoint_url}/")
    Select(driver.find_element(By.ID, "start-workflow")).select_by_value(workflow)
    textarea = driver.find_element(By.ID, "start-input")
    if workflow_input is not None:
        textarea.clear()
        textarea.send_keys(json.dumps(workflow_input))
    if image is not None:
        driver.find_element(By.ID, "start-image").send_keys(str(image))
    driver.find_element(By.ID, "start-button").click()
    _wait(driver, lambda d: "/execution/" in d.current_url, "the start form did not open the execution")
    return str(driver.current_url)


def _screenshot(driver: Any, directory: Path, name: str) -> None:
    """The whole page, for docs/local.md."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height), 1000), 1800))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(directory / name))
    assert (directory / name).stat().st_size > 0
    driver.set_window_size(1400, 1000)


def _no_alert(driver: Any) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - reading it is what raises


def test_index_lists_the_workflows_with_their_source_type_and_diagram(
    server: LocalServer, browser: Any
) -> None:
    browser.get(f"{server.endpoint_url}/")
    rows = {
        row.get_attribute("data-workflow"): row
        for row in browser.find_elements(By.CSS_SELECTOR, "#workflows tr[data-workflow]")
    }
    assert {DYNAMIC_FORK, "image_renditions", "image_convert_resize", WAIT_LONG} <= set(rows)
    fork = rows[DYNAMIC_FORK].find_elements(By.TAG_NAME, "td")
    assert fork[1].text == f"statemachines/conductor/workflows/{DYNAMIC_FORK}.json"
    assert fork[2].text == "Standard"
    assert rows["image_renditions"].find_elements(By.TAG_NAME, "td")[2].text == "Express"
    fork[3].find_element(By.TAG_NAME, "summary").click()
    labels = [t.text for t in fork[3].find_elements(By.CSS_SELECTOR, "svg.graph text.label")]
    assert "image_multiple_convert_resize_ref" in labels  # the planner, folded with its checks
    assert "image_convert_resize" in labels  # the Map's task
    # the example input follows the chosen workflow: the seed's shape
    Select(browser.find_element(By.ID, "start-workflow")).select_by_value(DYNAMIC_FORK)
    example = json.loads(browser.find_element(By.ID, "start-input").get_attribute("value"))
    assert example["outputFormats"] == ["png", "jpg", "webp"]
    assert len(example["outputSizes"]) == 3


def test_start_the_dynamic_fork_from_the_page_and_see_its_nine_renditions(
    server: LocalServer, browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    _start_from_page(browser, server, DYNAMIC_FORK, image=_image(tmp_path / "photo.png"))
    _wait(browser, lambda d: _status(d) == "SUCCEEDED", "the execution did not turn SUCCEEDED")
    fork = _node(browser, "image_multiple_convert_resize_fork_ref")
    assert "status-SUCCEEDED" in _classes(fork)
    assert fork.find_element(By.CSS_SELECTOR, "[data-badge]").text == "9/9 done · 0 running · 0 failed"
    for label in ("image_multiple_convert_resize_ref", "image_convert_resize", "Workflow output"):
        assert "status-SUCCEEDED" in _classes(_node(browser, label)), label
    assert "status-NOT_STARTED" in _classes(_node(browser, "unknown task"))

    _node(browser, "image_multiple_convert_resize_ref").click()
    _wait(browser, lambda d: "loaded" in _classes(d.find_element(By.ID, "details")), "no details shown")
    details = browser.find_element(By.ID, "details")
    assert details.find_element(By.CSS_SELECTOR, "h2.node-title").text == "image_multiple_convert_resize_ref"
    output = details.find_element(By.CSS_SELECTOR, ".payload-output pre").get_attribute("textContent")
    assert "dynamicForkItems" in output
    assert details.find_element(By.CSS_SELECTOR, ".fact-attempts").text == "1"

    thumbnails = browser.find_elements(By.CSS_SELECTOR, "figure.rendition img.thumbnail")
    assert len(thumbnails) == 9
    _wait(
        browser,
        lambda d: all(
            d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", t)
            for t in thumbnails
        ),
        "the thumbnails did not load",
    )
    formats = {f.text for f in browser.find_elements(By.CSS_SELECTOR, "figure.rendition .format")}
    assert formats == {"PNG", "JPEG", "WEBP"}
    sizes = {s.text for s in browser.find_elements(By.CSS_SELECTOR, "figure.rendition .size")}
    assert {"300\u00d7225", "200\u00d7150"} <= sizes  # 640x480 kept its aspect ratio
    keys = [k.text for k in browser.find_elements(By.CSS_SELECTOR, "figure.rendition code.key")]
    assert all(key.startswith("renditions/photo/") for key in keys)
    sheet = browser.find_element(By.ID, "contact-sheet")
    _wait(
        browser, lambda d: d.execute_script("return arguments[0].naturalWidth", sheet) > 0, "no contact sheet"
    )
    download = browser.find_elements(By.CSS_SELECTOR, "figure.rendition a.download")[0].get_attribute("href")
    assert download.endswith("?download=1")
    _screenshot(browser, screenshots, "viewer-execution.png")
    browser.find_element(By.ID, "renditions").screenshot(str(screenshots / "viewer-renditions.png"))
    browser.get(f"{server.endpoint_url}/")
    _screenshot(browser, screenshots, "viewer-index.png")
    row = browser.find_element(By.CSS_SELECTOR, "#execution-list tr.execution")
    assert row.get_attribute("data-status") == "SUCCEEDED"  # newest first
    assert row.find_elements(By.TAG_NAME, "td")[1].text == DYNAMIC_FORK


def test_a_running_execution_turns_green_by_itself(server: LocalServer, browser: Any) -> None:
    _start_from_page(browser, server, WAIT_SHORT, workflow_input={})
    assert _status(browser) == "RUNNING"  # a 3 s WAIT: the page opens while it waits
    assert "status-RUNNING" in _classes(_node(browser, "hold_ref"))
    _wait(browser, lambda d: _status(d) == "SUCCEEDED", "the page did not follow the execution")
    assert "status-SUCCEEDED" in _classes(_node(browser, "hold_ref"))


def test_stop_a_running_execution_from_the_page(server: LocalServer, browser: Any) -> None:
    _start_from_page(browser, server, WAIT_LONG, workflow_input={})
    assert _status(browser) == "RUNNING"
    browser.find_element(By.ID, "stop-button").click()
    _wait(browser, lambda d: _status(d) == "ABORTED", "the execution was not stopped")
    assert "status-ABORTED" in _classes(_node(browser, "hold_ref"))
    assert not browser.find_elements(By.ID, "stop-button")
    browser.get(f"{server.endpoint_url}/?workflow={WAIT_LONG}&status=ABORTED")
    rows = browser.find_elements(By.CSS_SELECTOR, "#execution-list tr.execution")
    assert rows
    assert {row.get_attribute("data-status") for row in rows} == {"ABORTED"}


def test_a_failed_execution_opens_on_the_failing_state_and_its_typed_error(
    server: LocalServer, browser: Any, screenshots: Path
) -> None:
    missing = f"s3://{server.engine.deployment.input_bucket}/local-runs/{HOSTILE}-missing.png"
    workflow_input = {
        "fileLocation": missing,
        "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 100, "height": 100}},
    }
    _start_from_page(browser, server, "image_convert_resize", workflow_input=workflow_input)
    _wait(browser, lambda d: _status(d) == "FAILED", "the execution did not fail")
    failure = browser.find_element(By.ID, "failure")
    assert failure.find_element(By.CSS_SELECTOR, ".error-name").text == "SourceNotFoundError"
    assert "image_convert_resize_ref" in failure.find_element(By.TAG_NAME, "h2").text
    _wait(
        browser, lambda d: "loaded" in _classes(d.find_element(By.ID, "details")), "failing state not opened"
    )
    details = browser.find_element(By.ID, "details")
    assert details.find_element(By.CSS_SELECTOR, "h2.node-title").text == "image_convert_resize_ref"
    assert (
        details.find_element(By.CSS_SELECTOR, ".run.status-FAILED .fact-error").text == "SourceNotFoundError"
    )
    assert "status-FAILED" in _classes(_node(browser, "image_convert_resize_ref"))
    assert "status-NOT_STARTED" in _classes(_node(browser, "upload_toS3_ref"))
    _screenshot(browser, screenshots, "viewer-failed.png")
    # the hostile key is in the input, the state's input and (maybe) the cause: text, never markup
    assert HOSTILE in browser.find_element(By.ID, "execution-input").text
    assert not browser.find_elements(By.CSS_SELECTOR, "img[src='x']")
    _no_alert(browser)


def test_a_hostile_object_key_renders_as_text(server: LocalServer, browser: Any, tmp_path: Path) -> None:
    image = _image(tmp_path / f"{HOSTILE}.png", (120, 90))
    _start_from_page(
        browser,
        server,
        "image_convert_resize",
        image=image,
        workflow_input={
            "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 60, "height": 60}}
        },
    )
    _wait(browser, lambda d: _status(d) == "SUCCEEDED", "the execution did not succeed")
    shown = browser.find_element(By.ID, "execution-input").text
    assert f"/{HOSTILE}.png" in shown  # the uploaded object's key, as text
    assert not browser.find_elements(By.CSS_SELECTOR, "img[src='x']")
    _node(browser, "image_convert_resize_ref").click()
    _wait(browser, lambda d: "loaded" in _classes(d.find_element(By.ID, "details")), "no details shown")
    assert HOSTILE in browser.find_element(By.CSS_SELECTOR, "#details .payload-input pre").get_attribute(
        "textContent"
    )
    assert not browser.find_elements(By.CSS_SELECTOR, "img[src='x']")
    _no_alert(browser)
    # and the browser enforced the policy without having to refuse anything of ours
    refused = [e for e in browser.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert refused == []
