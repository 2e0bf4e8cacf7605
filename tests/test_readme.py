"""The README stays true: its diagrams are the translator's, its links and make targets exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
GENERATED = ROOT / "statemachines" / "generated"


@pytest.mark.parametrize(
    "workflow",
    [
        "image_convert_resize",
        "image_convert_resize_multiple_formats",
        "image_multiple_convert_resize",
        "image_multiple_convert_resize_upload",
        "image_renditions",
    ],
)
def test_readme_shows_the_generated_diagram(workflow: str) -> None:
    assert (GENERATED / f"{workflow}.mmd").read_text().rstrip() in README


def test_readme_links_point_at_files() -> None:
    links = re.findall(r"\]\(([^)#:]+)\)", README)
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_every_make_target_the_readme_names_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    named = set(re.findall(r"`make ([a-z-]+)`", README))
    assert {"test", "demo"} <= named
    assert named - targets == set()


def test_ci_runs_make_lint_and_make_test_which_make_check_is() -> None:
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make ")]
    assert commands == ["make lint", "make test", "make verify-bundle"]
    check = re.search(r"^check: (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert check is not None
    assert check.group(1).split() == ["lint", "test"]
