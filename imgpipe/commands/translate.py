"""`imgpipe translate PATH`: Conductor workflow JSON to Step Functions ASL (and Mermaid diagrams).

Task definitions are read from the `tasks/` directory beside the workflows, options from
`translator.json` there (see docs/translator.md). Warnings go to stderr; errors make the exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from statemachines.project import load_sources, translate_all
from statemachines.translator import Diagnostic, Diagnostics
from statemachines.translator.mermaid import workflow_diagram


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg, unused-ignore]
    parser = subparsers.add_parser(
        "translate",
        help="translate Conductor workflow JSON to Step Functions ASL",
        description="Translate Conductor workflow definitions (a file or a directory) to Amazon States "
        "Language. Task definitions are read from the sibling tasks/ directory.",
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


def _report(findings: list[Diagnostic], as_json: bool) -> None:
    """Each distinct finding once (task-definition warnings repeat for every workflow using it)."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    for finding in findings:
        key = (finding.severity.value, finding.location, finding.message)
        seen.setdefault(key, [])
        if finding.workflow and finding.workflow not in seen[key]:
            seen[key].append(finding.workflow)
    for (severity, location, message), workflows in seen.items():
        if as_json:
            record = {"severity": severity, "workflows": workflows, "location": location, "message": message}
            print(json.dumps(record), file=sys.stderr)
        else:
            where = ", ".join(workflows)
            print(f"{severity}: {where + ': ' if where else ''}{location}: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    diagnostics = Diagnostics()
    project = load_sources(args.path, diagnostics)
    if args.inline_sub_workflows:
        project = replace(project, options=replace(project.options, inline_sub_workflows=True))
    translated, findings = ({}, []) if diagnostics.errors else translate_all(project)
    findings = diagnostics.items + findings
    _report(findings, args.json)
    if any(f.severity == "error" for f in findings):
        return 1
    if not translated:
        print(f"error: {args.path}: no workflow definitions found", file=sys.stderr)
        return 1
    if args.out is None:
        if args.diagram:
            for name in translated:
                sys.stdout.write(workflow_diagram(project.workflows[name]))
        elif len(translated) == 1:
            print(next(iter(translated.values())).asl_json)
        else:
            print(json.dumps({name: tw.asl for name, tw in translated.items()}, indent=2))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, tw in translated.items():
        (args.out / f"{name}.asl.json").write_text(tw.asl_json + "\n", encoding="utf-8")
        if args.diagram:
            (args.out / f"{name}.mmd").write_text(workflow_diagram(project.workflows[name]), encoding="utf-8")
    print(f"wrote {len(translated)} state machine(s) to {args.out}", file=sys.stderr)
    return 0
