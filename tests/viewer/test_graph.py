"""The graph drawn from ASL: every state in exactly one node, a layout that never overlaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imgpipe.viewer.graph import GROUP, Graph, state_machine_graph

GENERATED = Path(__file__).resolve().parents[2] / "statemachines" / "generated"
WORKFLOWS = sorted(path.name.removesuffix(".asl.json") for path in GENERATED.glob("*.asl.json"))


def _states(definition: dict[str, Any]) -> set[str]:
    names = set(definition.get("States", {}))
    for state in definition.get("States", {}).values():
        for inner in [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]:
            if inner:
                names |= _states(inner)
    return names


def _overlap(a: Any, b: Any) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _check_layout(graph: Graph) -> None:
    for index, first in enumerate(graph.nodes):
        for second in graph.nodes[index + 1 :]:
            assert not _overlap(first, second), (first.key, second.key)
        for child in first.children:
            assert first.x <= child.x
            assert child.x + child.w <= first.x + first.w + 0.01
            assert first.y <= child.y
            assert child.y + child.h <= first.y + first.h + 0.01
            for inner in child.nodes:
                assert first.x <= inner.x
                assert inner.x + inner.w <= first.x + first.w + 0.01
            _check_layout(child)


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_every_state_is_drawn_in_one_node_without_overlaps(workflow: str) -> None:
    definition = json.loads((GENERATED / f"{workflow}.asl.json").read_text())
    drawn = state_machine_graph(definition)
    assert set(drawn.node_of) == _states(definition)
    nodes = {node.id: node for node in drawn.graph.all_nodes()}
    assert sorted(s for node in nodes.values() for s in node.states) == sorted(_states(definition))
    for edge in drawn.graph.all_edges():
        assert edge.source in nodes
        assert edge.target in nodes
        assert edge.path.startswith("M")
    _check_layout(drawn.graph)
    assert drawn.width > 0
    assert drawn.height > 0


def test_helper_states_fold_into_their_conductor_task() -> None:
    definition = json.loads((GENERATED / "image_multiple_convert_resize.asl.json").read_text())
    drawn = state_machine_graph(definition)
    top = [node.label for node in drawn.graph.nodes]
    assert top == [
        "Start",
        "workflow input",
        "image_multiple_convert_resize_ref",
        "image_multiple_convert_resize_fork_ref",
        "image_multiple_convert_resize_join_ref",
        "Workflow output",
    ]
    by_label = {node.label: node for node in drawn.graph.all_nodes()}
    assert by_label["workflow input"].kind == GROUP
    assert by_label["image_multiple_convert_resize_ref"].kind == "Task"
    assert (
        "image_multiple_convert_resize_ref: check 1" in by_label["image_multiple_convert_resize_ref"].states
    )
    fork = by_label["image_multiple_convert_resize_fork_ref"]
    assert fork.kind == "Map"
    inner = {node.label for node in fork.children[0].nodes}
    assert {"route item", "image_convert_resize", "unknown task"} <= inner
    # top to bottom in order of execution
    ys = [node.y for node in drawn.graph.nodes]
    assert ys == sorted(ys)


def test_parallel_branches_side_by_side() -> None:
    definition = json.loads((GENERATED / "image_convert_resize_multiple_formats.asl.json").read_text())
    drawn = state_machine_graph(definition)
    fork = next(node for node in drawn.graph.nodes if node.kind == "Parallel")
    assert len(fork.children) == 3
    lefts = [branch.x for branch in fork.children]
    assert lefts == sorted(lefts)
    assert all(a.x + a.w <= b.x for a, b in zip(fork.children, fork.children[1:], strict=False))


def test_a_loop_is_drawn_as_a_back_edge() -> None:
    definition = {
        "StartAt": "work",
        "States": {
            "work": {"Type": "Pass", "Next": "again?"},
            "again?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.more", "BooleanEquals": True, "Next": "work"}],
                "Default": "done",
            },
            "done": {"Type": "Succeed"},
            "orphan": {"Type": "Fail"},
        },
    }
    drawn = state_machine_graph(definition)
    kinds = {(e.source, e.target): e.kind for e in drawn.graph.edges}
    work, again, done = (drawn.node_of[name] for name in ("work", "again?", "done"))
    assert kinds[(again, work)] == "back"
    assert kinds[(work, again)] == "next"
    assert kinds[(again, done)] == "next"
    assert "orphan" in drawn.node_of  # unreachable states are still drawn
    _check_layout(drawn.graph)


def test_long_labels_are_shortened_with_the_full_name_kept() -> None:
    name = "a" * 200
    drawn = state_machine_graph({"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}})
    [node] = drawn.graph.nodes
    assert node.key == name
    assert node.display_label.endswith("…")
    assert len(node.display_label) * 7 <= node.w


def test_the_pages_assets_are_package_data() -> None:
    """Templates, script and styles ship in the package (the viewer works offline, from a wheel)."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "imgpipe"
    ]
    assets = [
        path.relative_to(root / "imgpipe").as_posix()
        for folder in ("templates", "static")
        for path in (root / "imgpipe" / "viewer" / folder).iterdir()
    ]
    assert {"viewer/static/viewer.js", "viewer/static/viewer.css", "viewer/templates/execution.html"} <= set(
        assets
    )
    for asset in assets:
        assert any(fnmatch.fnmatch(asset, pattern) for pattern in patterns), asset
