"""The graph of a state machine, drawn from its ASL: nodes, edges and a layered layout for an SVG.

The translator names helper states after the Conductor task they serve (`<ref>: check 1`,
`<ref>: all present?`, `<join>: add 8 items`), so the graph folds every helper into its task's node:
one node per Conductor task, as the author wrote them, while every ASL state still maps to a node
(`node_of`) for the statuses. Map and Parallel states are containers holding their inner graphs.

The layout is a small layered (Sugiyama-style) one: back edges removed by depth-first search,
longest-path layers, nodes placed under the mean of their predecessors, containers sized by their
inner layouts. It runs on the server, so the page needs no graph library and no inline style.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CHAR_WIDTH = 7  # px per character of the 12 px label font (monospace-ish estimate)
NODE_HEIGHT = 34
MIN_WIDTH, MAX_WIDTH = 110, 270
ROW_GAP, COLUMN_GAP = 34, 22
PADDING = 12
HEADER = 44  # a container's title bar: its name, then its iterations
GROUP = "Group"


@dataclass
class Node:
    id: str
    key: str  # the group: a state name, or a helper prefix such as "workflow input"
    label: str
    kind: str  # the ASL Type of the node's main state (GROUP: helpers with no state of their own)
    states: list[str] = field(default_factory=list)
    children: list[Graph] = field(default_factory=list)  # Map: its processor; Parallel: branches
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    @property
    def display_label(self) -> str:
        room = int((self.w - 2 * PADDING) // CHAR_WIDTH)
        return self.label if len(self.label) <= room else self.label[: max(room - 1, 1)] + "…"


@dataclass
class Edge:
    source: str
    target: str
    kind: str = "next"  # next | catch | back
    path: str = ""  # SVG path data, absolute coordinates


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    def all_nodes(self) -> list[Node]:
        found: list[Node] = []
        for node in self.nodes:
            found.append(node)
            for child in node.children:
                found.extend(child.all_nodes())
        return found

    def all_edges(self) -> list[Edge]:
        found = list(self.edges)
        for node in self.nodes:
            for child in node.children:
                found.extend(child.all_edges())
        return found


@dataclass
class StateMachineGraph:
    """The laid-out graph and, for every ASL state name, the id of the node it is drawn in."""

    graph: Graph
    node_of: dict[str, str]
    kinds: dict[str, str]  # ASL state name -> Type

    @property
    def width(self) -> float:
        return self.graph.w

    @property
    def height(self) -> float:
        return self.graph.h


def _group_key(name: str, names: set[str], container: str | None) -> str:
    prefix, separator, _ = name.partition(": ")
    if not separator or prefix == name:
        return name
    if prefix in names:
        return prefix  # a helper of a state of this graph
    if prefix == container:
        return name  # the container's own machinery (a Map's route and task states): kept
    return prefix  # a helper group with no state of its own ("workflow input")


def _targets(state: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = [(str(state["Next"]), "next")] if state.get("Next") else []
    found += [(str(c["Next"]), "next") for c in state.get("Choices", []) if c.get("Next")]
    if state.get("Default"):
        found.append((str(state["Default"]), "next"))
    found += [(str(c["Next"]), "catch") for c in state.get("Catch", []) if c.get("Next")]
    return found


class _Builder:
    def __init__(self) -> None:
        self.node_of: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self.count = 0

    def graph(self, definition: Mapping[str, Any], container: str | None) -> Graph:
        states: Mapping[str, Mapping[str, Any]] = definition.get("States", {})
        names = set(states)
        graph = Graph()
        by_key: dict[str, Node] = {}
        ordered = self._discovery_order(definition)
        for name in ordered:
            state = states[name]
            key = _group_key(name, names, container)
            node = by_key.get(key)
            if node is None:
                self.count += 1
                label = key.partition(": ")[2] if container and key.startswith(f"{container}: ") else key
                node = Node(id=f"n{self.count}", key=key, label=label, kind=GROUP)
                by_key[key] = node
                graph.nodes.append(node)
            node.states.append(name)
            if name == key:
                node.kind = str(state.get("Type", "Pass"))
            self.node_of[name] = node.id
            self.kinds[name] = str(state.get("Type", ""))
            if state.get("Type") == "Map":
                processor = state.get("ItemProcessor") or state.get("Iterator") or {}
                node.children = [self.graph(processor, name)]
            elif state.get("Type") == "Parallel":
                node.children = [self.graph(branch, name) for branch in state.get("Branches", [])]
        ids = {node.key: node.id for node in graph.nodes}
        seen: set[tuple[str, str]] = set()
        for name in ordered:
            source = ids[_group_key(name, names, container)]
            for target_name, kind in _targets(states[name]):
                if target_name not in names:
                    continue
                target = ids[_group_key(target_name, names, container)]
                if source != target and (source, target) not in seen:
                    seen.add((source, target))
                    graph.edges.append(Edge(source, target, kind))
        return graph

    @staticmethod
    def _discovery_order(definition: Mapping[str, Any]) -> list[str]:
        """States in depth-first order from StartAt (then any unreachable ones), Next before branches."""
        states: Mapping[str, Mapping[str, Any]] = definition.get("States", {})
        order: list[str] = []
        stack = [str(definition.get("StartAt", ""))]
        while stack:
            name = stack.pop()
            if name in order or name not in states:
                continue
            order.append(name)
            stack.extend(reversed([target for target, _ in _targets(states[name])]))
        return order + [name for name in states if name not in order]


# --- layout ------------------------------------------------------------------------------------
def _size(node: Node) -> None:
    text = len(node.label) * CHAR_WIDTH + 2 * PADDING
    if not node.children:
        node.w, node.h = float(min(max(text, MIN_WIDTH), MAX_WIDTH)), float(NODE_HEIGHT)
        return
    for child in node.children:
        _layout(child)
    inner_w = sum(child.w for child in node.children) + COLUMN_GAP * (len(node.children) - 1)
    node.w = float(max(inner_w + 2 * PADDING, min(max(text, MIN_WIDTH), MAX_WIDTH)))
    node.h = float(HEADER + max((child.h for child in node.children), default=0) + PADDING)


def _layers(graph: Graph) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Longest-path layers after removing the back edges a depth-first search finds."""
    successors: dict[str, list[str]] = {node.id: [] for node in graph.nodes}
    for edge in graph.edges:
        successors[edge.source].append(edge.target)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in [node.id for node in graph.nodes]:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            current, position = stack.pop()
            if position < len(successors[current]):
                stack.append((current, position + 1))
                nxt = successors[current][position]
                if state.get(nxt) == 1:
                    back.add((current, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[current] = 2
    layer = {node.id: 0 for node in graph.nodes}
    forward = [(e.source, e.target) for e in graph.edges if (e.source, e.target) not in back]
    for _ in range(len(graph.nodes)):  # relax: longest path in a DAG
        changed = False
        for source, target in forward:
            if layer[target] < layer[source] + 1:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    return layer, back


def _layout(graph: Graph) -> None:
    """Positions relative to the graph's own origin; sets graph.w and graph.h."""
    for node in graph.nodes:
        _size(node)
    layer, back = _layers(graph)
    by_id = {node.id: node for node in graph.nodes}
    rows: dict[int, list[Node]] = {}
    for node in graph.nodes:
        rows.setdefault(layer[node.id], []).append(node)
    predecessors: dict[str, list[str]] = {node.id: [] for node in graph.nodes}
    for edge in graph.edges:
        if (edge.source, edge.target) not in back:
            predecessors[edge.target].append(edge.source)
    y = float(PADDING)
    for index in sorted(rows):
        row = rows[index]
        wanted: dict[str, float] = {}
        for node in row:
            above = [by_id[p] for p in predecessors[node.id] if layer[p] < index]
            wanted[node.id] = sum(p.x + p.w / 2 for p in above) / len(above) if above else 0.0
        row.sort(key=lambda n: wanted[n.id])
        right = -float("inf")
        for node in row:  # under the predecessors, pushed right where they would overlap
            node.x = max(right + COLUMN_GAP, wanted[node.id] - node.w / 2)
            node.y = y
            right = node.x + node.w
        shift = sum(wanted[n.id] - (n.x + n.w / 2) for n in row) / len(row)
        for node in row:  # then the row as a whole centred under what it hangs from
            node.x += shift
        y += max(n.h for n in row) + ROW_GAP
    left = min((n.x for n in graph.nodes), default=0.0)
    for node in graph.nodes:
        node.x += PADDING - left
    graph.w = max((n.x + n.w for n in graph.nodes), default=0.0) + PADDING
    graph.h = max(y - ROW_GAP + PADDING, 2 * PADDING)
    for node in graph.nodes:
        offset = node.x + PADDING
        for child in node.children:
            child.x, child.y = offset, node.y + HEADER
            offset += child.w + COLUMN_GAP
    for edge in graph.edges:
        if (edge.source, edge.target) in back:
            edge.kind = "back"
    graph.edges.sort(key=lambda e: (e.kind, e.source, e.target))


def _place(graph: Graph, dx: float, dy: float) -> None:
    """Absolute coordinates (children are laid out relative to their graph) and edge paths."""
    by_id = {node.id: node for node in graph.nodes}
    for node in graph.nodes:
        node.x += dx
        node.y += dy
    for node in graph.nodes:
        for child in node.children:
            _place(child, child.x + dx, child.y + dy)
    for edge in graph.edges:
        source, target = by_id[edge.source], by_id[edge.target]
        sx, sy = source.x + source.w / 2, source.y + source.h
        tx, ty = target.x + target.w / 2, target.y
        if edge.kind == "back":
            right = max(source.x + source.w, target.x + target.w) + COLUMN_GAP
            edge.path = (
                f"M{source.x + source.w:.1f},{source.y + source.h / 2:.1f} "
                f"C{right:.1f},{source.y + source.h / 2:.1f} {right:.1f},{target.y + target.h / 2:.1f} "
                f"{target.x + target.w:.1f},{target.y + target.h / 2:.1f}"
            )
        else:
            middle = (sy + ty) / 2
            edge.path = f"M{sx:.1f},{sy:.1f} C{sx:.1f},{middle:.1f} {tx:.1f},{middle:.1f} {tx:.1f},{ty:.1f}"


def state_machine_graph(definition: Mapping[str, Any]) -> StateMachineGraph:
    """The laid-out graph of an ASL definition (any ASL: unknown shapes are drawn state by state)."""
    builder = _Builder()
    graph = builder.graph(definition, None)
    _layout(graph)
    _place(graph, 0, 0)
    return StateMachineGraph(graph, builder.node_of, builder.kinds)
