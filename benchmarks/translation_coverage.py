"""How many Conductor workflow definitions in a directory translate to ASL that moto's parser accepts.

    python -m benchmarks.translation_coverage /tmp/conductor-corpus [--json]

Runs `imgpipe translate DIR --out <tmp> --json` (the directory as one project), parses every written
state machine with moto's ASL parser (the engine the local runtime and the tests execute), and counts
the rest by the reason they were refused: the category of each error (an unsupported task type by
name, an expression, a JOIN, a sub-workflow, the schema, ...). A workflow refused for several reasons
counts once per category. JSON files that are not workflow definitions (task definitions, execution
dumps, inputs) are counted apart and not translated. The corpus itself is never part of this
repository: see docs/translator.md ("Coverage") for how it is fetched.
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

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
UNSUPPORTED_TYPE = re.compile(r"of type (\S+) cannot be translated")
# (category, pattern of the error message), first match wins
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("WAIT for a signal", re.compile(r"WAIT .* needs a literal")),
    ("workflow output not static", re.compile(r"workflow output .* cannot be told statically")),
    ("sub-workflow refused or missing", re.compile(r"sub-workflow|could not be translated")),
    ("loop condition", re.compile(r"loopCondition|loop condition", re.IGNORECASE)),
    ("switch/decision expression", re.compile(r"evaluatorType|JavaScript|caseExpression", re.IGNORECASE)),
    ("expression", re.compile(r"expression|\$\{", re.IGNORECASE)),
    ("fork/join structure", re.compile(r"\bJOIN\b|FORK_JOIN\b|\bfork\b")),
    ("dynamic fork", re.compile(r"FORK_JOIN_DYNAMIC|dynamicFork", re.IGNORECASE)),
    ("definition schema", re.compile(r"Field required|Input should|String should|List should")),
    ("duplicate name", re.compile(r"defined twice|used more than once")),
)


def is_workflow_definition(document: Any) -> bool:
    """A WorkflowDef: a name and a list of tasks, and none of an execution's fields."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("name"), str)
        and isinstance(document.get("tasks"), list)
        and "workflowId" not in document
    )


def category(message: str, location: str = "") -> str:
    if location.endswith(".name") and message == "Field required":
        return "task without a name (Conductor's system tasks may omit it)"
    if location.endswith(".loopCondition"):
        return "loop condition"
    found = UNSUPPORTED_TYPE.search(message)
    if found:
        return f"task type {found.group(1)}"
    for name, pattern in CATEGORIES:
        if pattern.search(message):
            return name
    return "other"


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
    """None when moto's ASL parser accepts the definition, else its complaint."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = PLACEHOLDER.sub(lambda m: _stand_in(m.group(1)), asl_json)
    try:
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
        for index, (relative, path) in enumerate(sorted(definitions.items())):
            document = json.loads(path.read_text(encoding="utf-8"))
            # test resources reuse names (Conductor keeps versions): a later one is translated under
            # `<name>__<n>`, so each definition counts once; references resolve to the first
            if document["name"] in names:
                document["name"] = f"{document['name']}__{index}"
                renamed += 1
            names.add(document["name"])
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
    for record in records:
        if record["severity"] != "error":
            continue
        for workflow in record["workflows"] or [record["location"].split(":")[0]]:
            refusals.setdefault(workflow, set()).add(category(record["message"], record["location"]))
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
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpus", type=Path, help="a directory of Conductor JSON files (searched recursively)"
    )
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
