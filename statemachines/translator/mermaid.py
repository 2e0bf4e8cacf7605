"""A Mermaid flowchart of a Conductor workflow, drawn from the definition (not the ASL), so it shows
what the author wrote: tasks, forks and joins, switches, sub-workflows."""

from __future__ import annotations

import re

from statemachines.translator.model import LOOP_TYPES, WorkflowDef, WorkflowTask
from statemachines.translator.registry import task_type


class _Chart:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ids: dict[str, str] = {}

    def node(self, key: str, label: str, kind: str) -> str:
        node_id = self.ids.setdefault(key, f"n{len(self.ids)}_{re.sub(r'[^A-Za-z0-9_]', '_', key)}"[:60])
        left, right = task_type(kind).shape
        text = label.replace('"', "#quot;")
        self.lines.append(f'    {node_id}{left}"{text}"{right}')
        return node_id

    def edge(self, sources: list[str], target: str, label: str = "") -> None:
        arrow = f"-->|{label}|" if label else "-->"
        for source in sources:
            self.lines.append(f"    {source} {arrow} {target}")


def _label(task: WorkflowTask) -> str:
    if task.type == "SIMPLE":
        return f"{task.taskReferenceName}<br/>{task.name}"
    if task.type == "SUB_WORKFLOW":
        child = (task.subWorkflowParam or {}).get("name", "?")
        return f"{task.taskReferenceName}<br/>SUB_WORKFLOW {child}"
    return f"{task.taskReferenceName}<br/>{task.type}"


def _sequence(
    chart: _Chart, tasks: list[WorkflowTask], entries: list[str], edge_label: str = ""
) -> list[str]:
    current = entries
    label = edge_label
    for task in tasks:
        node = chart.node(task.taskReferenceName, _label(task), task.type)
        chart.edge(current, node, label)
        label = ""
        if task.type == "FORK_JOIN":
            exits: list[str] = []
            for branch in task.forkTasks:
                exits += _sequence(chart, branch, [node])
            current = exits or [node]
        elif task.type == "FORK_JOIN_DYNAMIC":
            items = chart.node(
                f"{task.taskReferenceName}_items",
                "one branch per planned item<br/>(Map over dynamicForkItems)",
                "SIMPLE",
            )
            chart.lines.append(f"    {node} -.-> {items}")
            current = [items]
        elif task.type in ("SWITCH", "DECISION"):
            exits = []
            for case, case_tasks in task.decisionCases.items():
                exits += _sequence(chart, case_tasks, [node], case) if case_tasks else [node]
            exits += _sequence(chart, task.defaultCase, [node], "default") if task.defaultCase else [node]
            current = list(dict.fromkeys(exits))
        elif task.type in LOOP_TYPES:
            for body_exit in _sequence(chart, task.loopOver, [node]):
                chart.lines.append(f"    {body_exit} -.->|while loopCondition| {node}")
            current = [node]
        elif task.type == "TERMINATE":
            current = []
        else:
            current = [node]
    return current


def workflow_diagram(workflow: WorkflowDef) -> str:
    chart = _Chart()
    chart.lines.append("flowchart TD")
    start = chart.node("__start", f"start: {workflow.name}", "TERMINATE")
    exits = _sequence(chart, workflow.tasks, [start])
    end = chart.node(
        "__end", "output: " + (", ".join(workflow.outputParameters) or "last task's output"), "TERMINATE"
    )
    chart.edge(exits, end)
    return "\n".join(chart.lines) + "\n"
