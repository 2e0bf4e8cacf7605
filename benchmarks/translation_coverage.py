"""How many Conductor workflow definitions in a directory translate to ASL that moto's parser accepts.

    python -m benchmarks.translation_coverage /tmp/conductor-corpus-full [--json | --list]

Runs `imgpipe translate DIR --out <tmp> --json` (the directory as one project), parses every written
state machine with moto's ASL parser (the engine the local runtime and the tests execute), and counts
the rest by the reason they were refused: the category of each error (an unsupported task type by
name, an expression, a JOIN, a sub-workflow, the schema, ...). A workflow refused for several reasons
counts once per category; one that starts a refused sub-workflow is counted under "a sub-workflow it
starts is refused". JSON files that are not
workflow definitions (task definitions, execution dumps, event handlers, inputs) are counted apart
and not translated. The corpus itself is never part of this repository: see docs/translator.md
("Coverage") for how it is fetched.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from statemachines.translator.expressions import SUBSTITUTION_PLACEHOLDER

ROOT = Path(__file__).resolve().parents[1]
UNSUPPORTED_TYPE = re.compile(r"of type (\S+) cannot be translated")
CHILDREN_REFUSED = re.compile(r"starts sub-workflow\(s\) (.*), which could not be translated")
CHILD_REFUSED = "a sub-workflow it starts is refused"
# (category, pattern of the error message), first match wins
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("WAIT for a signal", re.compile(r"WAIT .* needs a literal")),
    ("workflow output not static", re.compile(r"workflow output .* cannot be told statically")),
    ("TERMINATE inside a fork branch", re.compile(r"inside a fork branch cannot end")),
    (CHILD_REFUSED, CHILDREN_REFUSED),
    ("sub-workflow name is an expression", re.compile(r"sub-workflow '\$\{")),
    ("sub-workflow not in the corpus", re.compile(r"is not among the workflows being translated")),
    ("SWITCH with evaluatorType decision (an LLM picks the case)", re.compile(r"evaluatorType decision")),
    ("JavaScript loop condition", re.compile(r"loopCondition|loop condition", re.IGNORECASE)),
    ("JavaScript switch/decision expression", re.compile(r"evaluatorType|JavaScript|caseExpression", re.I)),
    ("array mixing expressions and objects (JSONata)", re.compile(r"mixes expressions with nested")),
    ("reference to a task the workflow does not have", re.compile(r"which is not a task reference")),
    ("START_WORKFLOW request from an expression", re.compile(r"START_WORKFLOW .* needs a startWorkflow")),
    ("EVENT sink name", re.compile(r"EVENT .*(sink|queue name)")),
    ("PERMISSIVE task without a task definition", re.compile(r"PERMISSIVE task .* has no task definition")),
    ("DO_WHILE over a list (items)", re.compile(r"DO_WHILE '[^']*':? (over )?items")),
    ("expression", re.compile(r"expression|\$\{", re.IGNORECASE)),
    ("fork/join structure", re.compile(r"\bJOIN\b|FORK_JOIN\b|\bfork\b")),
    ("dynamic fork", re.compile(r"FORK_JOIN_DYNAMIC|dynamicFork", re.IGNORECASE)),
    ("definition schema", re.compile(r"Field required|Input should|String should|List should")),
    ("duplicate task reference", re.compile(r"defined twice|used more than once")),
)
INLINE_SUB_WORKFLOW = "inline sub-workflow definition"
LLM_TASK_TYPES = frozenset(
    {"AGENT", "CALL_AGENT", "CANCEL_AGENT", "GET_AGENT_CARD", "CALL_MCP_TOOL", "LIST_MCP_TOOLS"}
    | {"GENERATE_PDF", "GENERATE_IMAGE", "GENERATE_VIDEO", "GENERATE_AUDIO"}
)
TEST_ONLY_TASK_TYPES = frozenset(
    {"USER_TASK", "CONTROLLABLE_SYS_TASK", "CONTROLLABLE_POLL_TASK", "BLOCKING_SYSTEM_TASK"}
)
LISTED_MESSAGE = 240  # characters of each refusal --list prints (some name every workflow of the corpus)


def is_workflow_definition(document: Any) -> bool:
    """A WorkflowDef: a name and a list of tasks, and none of an execution's fields."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("name"), str)
        and isinstance(document.get("tasks"), list)
        and "workflowId" not in document
    )


def category(message: str, location: str = "", document: Any = None) -> str:
    if location.endswith(".name") and message == "Field required":
        return "SIMPLE task without a name"
    if location.endswith(".loopCondition"):
        if "items" in _task_at(document, location.removesuffix(".loopCondition")):
            return "DO_WHILE over a list (items)"
        return "JavaScript loop condition"
    if location.endswith(".subWorkflowParam.name"):
        inline = _task_at(document, location).get("subWorkflowParam", {}).get("workflowDefinition")
        if isinstance(inline, dict):
            return INLINE_SUB_WORKFLOW
    found = UNSUPPORTED_TYPE.search(message)
    if found:
        kind = found.group(1)
        if kind.startswith("LLM_") or kind in LLM_TASK_TYPES:
            return f"task type {kind} (LLM/agent family, stays refused)"
        if kind in TEST_ONLY_TASK_TYPES:
            return f"task type {kind} (a Conductor test-harness system task)"
        return f"task type {kind}"
    for name, pattern in CATEGORIES:
        if pattern.search(message):
            return name
    return "other"


def _task_at(document: Any, location: str) -> dict[str, Any]:
    """The task a diagnostic's location is in (`tasks[1].loopOver[0]...`); {} when there is none."""
    node, task = document, {}
    for key, index in re.findall(r"\.?([^.\[\]]+)|\[(\d+)\]", location):
        try:
            node = node[int(index)] if index else node[key]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "taskReferenceName" in node:
            task = node
    return task


def _stand_in(key: str) -> str:
    """An ARN of the right shape for a placeholder, so moto's parser sees a deployable definition."""
    kind, _, name = key.partition("_")
    arns = {
        "LambdaArn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        "StateMachineArn": f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}",
        "ActivityArn": f"arn:aws:states:us-east-1:123456789012:activity:{name}",
    }
    return arns.get(kind, f"stand-in-{name}")


def moto_accepts(asl_json: str) -> str | None:
    """None when moto's ASL parser accepts the definition, else its complaint. The parser runs with
    the local runtime's HTTP Task binding and intrinsic-literal fix installed, as the engine runs it
    (moto has no http:invoke, and its lexer ends a literal at an escaped quote)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from imgpipe.local import http_seam, intrinsic_escapes

    definition = SUBSTITUTION_PLACEHOLDER.sub(lambda m: _stand_in(m.group(1)), asl_json)
    try:
        with http_seam.install(), intrinsic_escapes.install():
            AmazonStateLanguageParser.parse(definition)
    except Exception as error:  # the parser's own and its ANTLR errors: all mean "refused"
        return f"{type(error).__name__}: {error}"[:300]
    return None


def measure(corpus: Path) -> dict[str, Any]:
    files = sorted(corpus.rglob("*.json"))
    definitions: dict[str, Path] = {}
    skipped: list[str] = []
    for path in files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            skipped.append(str(path.relative_to(corpus)))
            continue
        if is_workflow_definition(document):
            definitions[str(path.relative_to(corpus))] = path
        else:
            skipped.append(str(path.relative_to(corpus)))
    with tempfile.TemporaryDirectory() as scratch:
        project, out = Path(scratch) / "project", Path(scratch) / "out"
        project.mkdir()
        renamed = 0
        names: set[str] = set()
        documents: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for index, (relative, path) in enumerate(sorted(definitions.items())):
            document = json.loads(path.read_text(encoding="utf-8"))
            # test resources reuse names (Conductor keeps versions): a later one is translated under
            # `<name>__<n>`, so each definition counts once; references resolve to the first
            if document["name"] in names:
                document["name"] = f"{document['name']}__{index}"
                renamed += 1
            names.add(document["name"])
            documents[document["name"]], sources[document["name"]] = document, relative
            (project / f"{index:03d}_{Path(relative).name}").write_text(json.dumps(document))
        completed = subprocess.run(
            [sys.executable, "-m", "imgpipe.cli", "translate", str(project), "--out", str(out), "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        records = [json.loads(line) for line in completed.stderr.splitlines() if line.startswith("{")]
        written = sorted(out.glob("*.asl.json")) if out.is_dir() else []
        parsed = {p.name.removesuffix(".asl.json"): moto_accepts(p.read_text()) for p in written}
    refusals: dict[str, set[str]] = {}
    diagnostics: dict[str, list[str]] = {}
    for record in records:
        if record["severity"] != "error":
            continue
        for workflow in record["workflows"] or [record["location"].split(":")[0]]:
            found = category(record["message"], record["location"], documents.get(workflow))
            refusals.setdefault(workflow, set()).add(found)
            diagnostics.setdefault(workflow, []).append(f"{record['location']}: {record['message']}")
    for name, complaint in parsed.items():
        if complaint is not None:
            refusals.setdefault(name, set()).add("moto's ASL parser refused the output")
    accepted = sorted(name for name, complaint in parsed.items() if complaint is None)
    by_category = Counter(c for categories in refusals.values() for c in categories)
    return {
        "json_files": len(files),
        "workflow_definitions": len(definitions),
        "not_workflow_definitions": len(skipped),
        "renamed_duplicates": renamed,
        "translated_and_accepted_by_moto": len(accepted),
        "refused": len(refusals),
        "refusals_by_category": dict(by_category.most_common()),
        "translate_exit_code": completed.returncode,
        "crashed": "Traceback" in completed.stderr,
        "accepted": accepted,
        "refused_workflows": {name: sorted(c) for name, c in sorted(refusals.items())},
        "sources": sources,
        "diagnostics": diagnostics,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpus", type=Path, help="a directory of Conductor JSON files (searched recursively)"
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the whole result as JSON")
    shown.add_argument(
        "--list", action="store_true", help="also list every workflow: its file, outcome and refusals"
    )
    args = parser.parse_args(argv)
    result = measure(args.corpus)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['translated_and_accepted_by_moto']} of {result['workflow_definitions']} workflow "
        f"definitions translate to ASL moto's parser accepts ({result['refused']} refused; "
        f"{result['not_workflow_definitions']} other JSON files skipped; crashed: {result['crashed']})"
    )
    for name, count in result["refusals_by_category"].items():
        print(f"  {count:4d}  {name}")
    if args.list:
        for name, source in sorted(result["sources"].items(), key=lambda item: item[1]):
            if name in result["refused_workflows"]:
                print(f"refused   {source} ({name})")
                for problem in result["diagnostics"].get(name, []):
                    print(f"            {problem[:LISTED_MESSAGE]}")
            else:
                print(f"accepted  {source} ({name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
