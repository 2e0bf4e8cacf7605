"""The project's Conductor definitions, loaded and translated: the one entry point of CDK and the
local runtime (see docs/architecture.md, "Translator API").

    project = load_project()            # statemachines/conductor/{tasks,workflows}/*.json, validated
    translated = translate_project()    # dict[workflow name, TranslatedWorkflow]; raises on errors
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from statemachines.translator import (
    Diagnostic,
    Diagnostics,
    TranslationError,
    TranslatorOptions,
    translate_workflow,
)
from statemachines.translator.model import TaskDef, WorkflowDef
from statemachines.translator.options import DYNAMIC_JOIN_OUTPUTS
from statemachines.translator.sources import load_directory_pair, read_json
from statemachines.translator.translate import Translation

CONDUCTOR_DIR = Path(__file__).resolve().parent / "conductor"
OPTIONS_FILE = "translator.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class Project:
    """Validated Conductor definitions and the translator options that go with them."""

    task_defs: Mapping[str, TaskDef]
    workflows: Mapping[str, WorkflowDef]
    options: TranslatorOptions = field(default_factory=TranslatorOptions)
    files: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class TranslatedWorkflow:
    """One workflow's ASL (with definition-substitution placeholders) and what deploying it needs."""

    name: str
    asl: dict[str, Any]
    lambda_tasks: frozenset[str]
    child_workflows: frozenset[str]
    express_compatible: bool
    timeout_seconds: int | None
    concurrency_hints: dict[str, int]
    diagnostics: list[Diagnostic]
    # Every retry taken and every attempt timing out; None when unbounded (a Map, a child).
    worst_case_seconds: float | None = None

    @property
    def asl_json(self) -> str:
        """What CDK deploys and `make translate` writes."""
        return json.dumps(self.asl, indent=2, sort_keys=False)


def load_options(path: Path, diagnostics: Diagnostics) -> TranslatorOptions:
    """`translator.json` beside the workflows: per-project translator options (all optional)."""
    if not path.is_file():
        return TranslatorOptions()
    document = read_json(path, diagnostics)
    if not isinstance(document, dict):
        return TranslatorOptions()
    targets = document.get("dynamic_fork_targets", {})
    allowed = {
        "dynamic_fork_targets",
        "max_concurrency_cap",
        "inline_sub_workflows",
        "non_retryable_errors",
        "dynamic_join_output",
        "dynamic_join_output_by_join",
    }
    for key in sorted(set(document) - allowed):
        diagnostics.error(
            f"{path.name}.{key}", f"unknown translator option (known: {', '.join(sorted(allowed))})"
        )
    kwargs: dict[str, Any] = {"dynamic_fork_targets": {k: tuple(v) for k, v in targets.items()}}
    if "max_concurrency_cap" in document:
        kwargs["max_concurrency_cap"] = int(document["max_concurrency_cap"])
    if "inline_sub_workflows" in document:
        kwargs["inline_sub_workflows"] = bool(document["inline_sub_workflows"])
    if "non_retryable_errors" in document:
        kwargs["non_retryable_errors"] = tuple(document["non_retryable_errors"])
    modes: dict[str, Any] = {}
    if "dynamic_join_output" in document:
        modes["dynamic_join_output"] = document["dynamic_join_output"]
    by_join = document.get("dynamic_join_output_by_join", {})
    if isinstance(by_join, dict):
        modes |= {f"dynamic_join_output_by_join.{key}": value for key, value in by_join.items()}
    else:
        diagnostics.error(f"{path.name}.dynamic_join_output_by_join", "must be an object")
        by_join = {}
    for key, value in modes.items():
        if value not in DYNAMIC_JOIN_OUTPUTS:
            diagnostics.error(
                f"{path.name}.{key}",
                f"{value!r} is not a JOIN output mode (known: {', '.join(DYNAMIC_JOIN_OUTPUTS)})",
            )
    if not any(value not in DYNAMIC_JOIN_OUTPUTS for value in modes.values()):
        if "dynamic_join_output" in document:
            kwargs["dynamic_join_output"] = document["dynamic_join_output"]
        kwargs["dynamic_join_output_by_join"] = dict(by_join)
    return TranslatorOptions(**kwargs)


def load_sources(path: Path, diagnostics: Diagnostics) -> Project:
    """Workflows from a file or directory; task definitions from the nearest `tasks/` directory
    (`<dir>/tasks`, else `<dir>/../tasks`), options from `translator.json` beside that directory."""
    path = Path(path)
    workflow_dir = path if path.is_dir() else path.parent
    workflow_files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not path.exists():
        diagnostics.error(str(path), "no such file or directory")
        workflow_files = []
    bases = [b for b in (workflow_dir, workflow_dir.parent) if (b / "tasks").is_dir()]
    base = bases[0] if bases else workflow_dir
    task_dirs = [base / "tasks"] if bases else []
    sources = load_directory_pair(workflow_files, task_dirs, diagnostics)
    options = load_options(base / OPTIONS_FILE, diagnostics)
    return Project(sources.task_defs, sources.workflows, options, sources.files)


def load_project(conductor_dir: Path = CONDUCTOR_DIR) -> Project:
    """The definitions the project deploys; raises TranslationError if any of them is invalid."""
    diagnostics = Diagnostics()
    project = load_sources(conductor_dir / "workflows", diagnostics)
    if diagnostics.errors:
        raise TranslationError(diagnostics.errors)
    return project


def translate_all(project: Project) -> tuple[dict[str, TranslatedWorkflow], list[Diagnostic]]:
    """Translate every workflow; never raises, returns the findings beside the results."""
    translated: dict[str, TranslatedWorkflow] = {}
    findings: list[Diagnostic] = []
    for name in sorted(project.workflows):
        translation = translate_workflow(
            project.workflows[name], project.task_defs, project.workflows, project.options
        )
        findings.extend(translation.diagnostics)
        translated[name] = _deployable(translation)
    return translated, findings


def _deployable(translation: Translation) -> TranslatedWorkflow:
    result = translation.result
    return TranslatedWorkflow(
        name=translation.workflow.name,
        asl=result.asl,
        lambda_tasks=frozenset(result.lambda_tasks),
        child_workflows=frozenset(result.child_workflows),
        express_compatible=translation.express_compatible,
        timeout_seconds=translation.workflow.timeoutSeconds or None,
        concurrency_hints=dict(sorted(result.concurrency_hints.items())),
        diagnostics=[d for d in translation.diagnostics if d.severity == "warning"],
        worst_case_seconds=translation.longest_seconds,
    )


def translate_definition(definition: Mapping[str, Any], project: Project | None = None) -> TranslatedWorkflow:
    """One workflow given from outside the project (e.g. `imgpipe run my_workflow.json`), translated
    with the project's task definitions, options and workflows (its SUB_WORKFLOW children).

    Raises pydantic's ValidationError for a malformed definition, TranslationError on error diagnostics.
    """
    loaded = project or load_project()
    workflow = WorkflowDef.model_validate(definition)
    translation = translate_workflow(workflow, loaded.task_defs, loaded.workflows, loaded.options)
    errors = [d for d in translation.diagnostics if d.severity == "error"]
    if errors:
        raise TranslationError(errors)
    return _deployable(translation)


def translate_project(project: Project | None = None) -> dict[str, TranslatedWorkflow]:
    """Every workflow of the project, translated; raises TranslationError on error diagnostics."""
    translated, findings = translate_all(project or load_project())
    errors = [d for d in findings if d.severity == "error"]
    if errors:
        raise TranslationError(errors)
    return translated


def substitute(asl_json: str, values: Mapping[str, str]) -> str:
    """Replace `${key}` placeholders as Step Functions' definition substitutions do.

    Every placeholder must have a value: a definition with an unfilled ARN would fail later, at
    run time, with a less clear error.
    """
    missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(asl_json)} - set(values))
    if missing:
        raise KeyError(f"no value for placeholder(s): {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], asl_json)
