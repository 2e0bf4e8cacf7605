"""`imgpipe translate PATH`: Conductor workflow JSON to Step Functions ASL (and Mermaid diagrams).

A directory is translated as one project (SUB_WORKFLOW children across its files): every workflow
that translates is written, every refusal is reported (workflow, task, field, reason) and makes the
exit code 1. A file is translated exactly as `imgpipe run FILE` translates it
(`statemachines.project.load_for_path`): with a sibling `tasks/` directory when there is one,
otherwise with the project's task definitions and workflows. Warnings go to stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from statemachines.project import Project, load_for_path, translate_deployable
from statemachines.translator import Diagnostic, Diagnostics, Translation, TranslationError
from statemachines.translator.mermaid import workflow_diagram

LOCATION_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg, unused-ignore]
    parser = subparsers.add_parser(
        "translate",
        help="translate Conductor workflow JSON to Step Functions ASL",
        description="Translate Conductor workflow definitions (a file or a directory, one project) to "
        "Amazon States Language. Task definitions are read from the sibling tasks/ directory (a file "
        "without one uses the project's). Every workflow that translates is written; each refusal is "
        "reported and makes the exit code 1.",
    )
    parser.add_argument("path", type=Path, help="a workflow JSON file or a directory of them")
    parser.add_argument("--out", type=Path, help="write <name>.asl.json files here instead of stdout")
    parser.add_argument("--diagram", action="store_true", help="also write <name>.mmd Mermaid diagrams")
    parser.add_argument(
        "--inline-sub-workflows",
        action="store_true",
        help="inline SUB_WORKFLOW children instead of starting them with startExecution.sync:2",
    )
    parser.add_argument("--json", action="store_true", help="print diagnostics as JSON lines on stderr")
    parser.set_defaults(func=run)


def task_at(project: Project, finding: Diagnostic) -> str | None:
    """The task a finding is about: the innermost task reference on its location's path into the
    workflow (`tasks[2].forkTasks[0][1].name`), or the task definition's name (`taskDefs.<name>.x`)."""
    parts: list[str | int] = [name or int(index) for name, index in LOCATION_PART.findall(finding.location)]
    if parts[:1] == ["taskDefs"] and len(parts) > 1:
        return str(parts[1])
    workflow = project.workflows.get(finding.workflow)
    node: Any = workflow.model_dump() if workflow is not None else None
    found: str | None = None
    for part in parts:
        if isinstance(node, dict) and isinstance(part, str) and part in node:  # noqa: SIM114 - typed apart
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
        if isinstance(node, dict) and isinstance(node.get("taskReferenceName"), str):
            found = node["taskReferenceName"]
    return found


def _report(project: Project, findings: list[Diagnostic], as_json: bool) -> None:
    """Each distinct finding once (task-definition warnings repeat for every workflow using it)."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    tasks: dict[tuple[str, str, str], str | None] = {}
    for finding in findings:
        key = (finding.severity.value, finding.location, finding.message)
        seen.setdefault(key, [])
        tasks.setdefault(key, task_at(project, finding))
        if finding.workflow and finding.workflow not in seen[key]:
            seen[key].append(finding.workflow)
    for key, workflows in seen.items():
        severity, location, message = key
        if as_json:
            record = {
                "severity": severity,
                "workflows": workflows,
                "task": tasks[key],
                "location": location,
                "message": message,
            }
            print(json.dumps(record), file=sys.stderr)
        else:
            where = ", ".join(workflows)
            task = f" [{tasks[key]}]" if tasks[key] else ""
            print(f"{severity}: {where + ': ' if where else ''}{location}{task}: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    diagnostics = Diagnostics()  # task definitions, options: every workflow depends on them
    per_file = Diagnostics()  # one broken workflow file: only that workflow is refused
    try:
        project, names = load_for_path(args.path, diagnostics, per_file)
    except TranslationError as error:  # the project's own definitions, which a lone file joins
        _report(Project({}, {}), error.diagnostics, args.json)
        return 1
    if args.inline_sub_workflows:
        project = replace(project, options=project.options.replace(inline_sub_workflows=True))
    deployable, findings = ({}, []) if diagnostics.errors else translate_deployable(project, names=names)
    translated = {name: deployable[name] for name in names if name in deployable}
    refused = {d.workflow for d in findings if d.severity == "error"}
    findings = diagnostics.items + per_file.items + findings
    _report(project, findings, args.json)
    failed = any(f.severity == "error" for f in findings)
    if not translated and not failed:
        print(f"error: {args.path}: no workflow definitions found", file=sys.stderr)
        return 1
    if args.path.is_dir():
        _summary(
            args.path, translated, refused | {f.location.split(":")[0] for f in per_file.errors}, args.json
        )
    if args.out is None:
        if args.diagram:
            for name in translated:
                sys.stdout.write(workflow_diagram(project.workflows[name]))
        elif len(translated) == 1 and len(names) == 1:
            print(next(iter(translated.values())).asl_json)
        elif translated:
            print(json.dumps({name: tw.asl for name, tw in translated.items()}, indent=2))
        return 1 if failed else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, tw in translated.items():
        (args.out / f"{name}.asl.json").write_text(tw.asl_json + "\n", encoding="utf-8")
        if args.diagram:
            (args.out / f"{name}.mmd").write_text(workflow_diagram(project.workflows[name]), encoding="utf-8")
    if not args.json:
        print(f"wrote {len(translated)} state machine(s) to {args.out}", file=sys.stderr)
    return 1 if failed else 0


def _summary(path: Path, translated: dict[str, Translation], refused: set[str], as_json: bool) -> None:
    """One line for a directory: how many translated, which were refused (in --json, a record of the
    diagnostics' shape with severity "summary" and the translated workflows)."""
    listed = f": {', '.join(sorted(refused))}" if refused else ""
    message = f"translated {len(translated)}, refused {len(refused)}{listed}"
    if as_json:
        record = {
            "severity": "summary",
            "workflows": sorted(translated),
            "task": None,
            "location": str(path),
            "message": message,
        }
        print(json.dumps(record), file=sys.stderr)
    else:
        print(message, file=sys.stderr)
