"""The project's Conductor definitions, loaded and translated: the one entry point of CDK and the
local runtime (see docs/architecture.md, "Translator API").

    project = load_project()            # statemachines/conductor/{tasks,workflows}/*.json, validated
    translated = translate_project()    # dict[workflow name, Translation]; raises on errors
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from imgpipe.config import WORKER_TASKS
from statemachines.translator import (
    Diagnostic,
    Diagnostics,
    Translation,
    TranslationError,
    TranslatorOptions,
    translate_workflow,
)
from statemachines.translator.asl_states import EXPRESS_MAX_SECONDS
from statemachines.translator.expressions import SUBSTITUTION_PLACEHOLDER
from statemachines.translator.model import TaskDef, WorkflowDef
from statemachines.translator.options import DYNAMIC_JOIN_OUTPUTS
from statemachines.translator.sources import load_directory_pair, read_json

CONDUCTOR_DIR = Path(__file__).resolve().parent / "conductor"
OPTIONS_FILE = "translator.json"
PLACEHOLDER = SUBSTITUTION_PLACEHOLDER

# what translator.json may set: every option but those the project sets
FILE_OPTIONS = tuple(sorted(set(TranslatorOptions.model_fields) - set(TranslatorOptions.SET_BY_THE_PROJECT)))


@dataclass(frozen=True)
class Project:
    """Validated Conductor definitions and the translator options that go with them."""

    task_defs: Mapping[str, TaskDef]
    workflows: Mapping[str, WorkflowDef]
    options: TranslatorOptions = field(default_factory=TranslatorOptions)
    files: Mapping[str, Path] = field(default_factory=dict)


def _problem_location(origin: str, loc: tuple[int | str, ...]) -> str:
    text = origin
    for part in loc:
        if part != "[key]":  # pydantic's marker of a bad dict key: the key itself is the location
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _problem_message(problem: ErrorDetails) -> str:
    if problem["type"] == "extra_forbidden" and len(problem["loc"]) == 1:
        return f"unknown translator option (known: {', '.join(FILE_OPTIONS)})"
    if problem["type"] == "model_type":
        return f"must be a JSON object of translator options (got {type(problem['input']).__name__})"
    if problem["type"] == "literal_error":
        known = ", ".join(DYNAMIC_JOIN_OUTPUTS)
        return f"{problem['input']!r} is not a JOIN output mode (known: {known})"
    if problem["type"] == "string_pattern_mismatch" and problem["loc"][:1] == ("workflow_env",):
        return f"{problem['input']!r} is not a variable name (letters, digits, _)"
    if problem["type"] == "string_pattern_mismatch":
        return f"key {problem['input']!r} is not '<workflow name>.<taskReferenceName>'"
    # validated as JSON, pydantic names JSON's types; the file's authors read lists and dictionaries
    if problem["type"] == "tuple_type":
        return f"Input should be a valid list (got {problem['input']!r})"
    if problem["type"] == "dict_type":
        return f"Input should be a valid dictionary (got {problem['input']!r})"
    return f"{problem['msg']} (got {problem['input']!r})"


def load_options(path: Path, diagnostics: Diagnostics) -> TranslatorOptions:
    """`translator.json` beside the workflows: per-project translator options (all optional).

    Every problem becomes an error diagnostic located like `translator.json.dynamic_fork_targets.wf.fork`;
    the defaults are returned then, and the errors stop the translation.
    """
    if not path.is_file():
        return TranslatorOptions()
    before = len(diagnostics.errors)
    document = read_json(path, diagnostics)
    if len(diagnostics.errors) > before:
        return TranslatorOptions()
    problems = [
        (f"{path.name}.{name}", f"set by {why}, not by {path.name}")
        for name, why in TranslatorOptions.SET_BY_THE_PROJECT.items()
        if isinstance(document, dict) and name in document
    ]
    if isinstance(document, dict):  # those are reported once, whatever their value
        document = {k: v for k, v in document.items() if k not in TranslatorOptions.SET_BY_THE_PROJECT}
    try:  # as JSON: strict, yet a JSON array is a valid tuple
        options = TranslatorOptions.model_validate_json(json.dumps(document))
    except ValidationError as error:
        problems += [(_problem_location(path.name, p["loc"]), _problem_message(p)) for p in error.errors()]
        options = TranslatorOptions()
    for location, message in problems:
        diagnostics.error(location, message)
    return TranslatorOptions() if problems else options


def _task_base(workflow_dir: Path) -> Path | None:
    """The directory holding the nearest `tasks/` (`<dir>/tasks`, else `<dir>/../tasks`), if any."""
    bases = [b for b in (workflow_dir, workflow_dir.parent) if (b / "tasks").is_dir()]
    return bases[0] if bases else None


def _with_workers(options: TranslatorOptions) -> TranslatorOptions:
    """SIMPLE tasks that imgpipe's Lambda workers serve are Lambda tasks; every other one is an activity."""
    return options.replace(lambda_workers=frozenset(WORKER_TASKS))


def load_sources(
    path: Path, diagnostics: Diagnostics, workflow_diagnostics: Diagnostics | None = None
) -> Project:
    """Workflows from a file or directory; task definitions from the nearest `tasks/` directory
    (`<dir>/tasks`, else `<dir>/../tasks`), options from `translator.json` beside that directory.

    `workflow_diagnostics`: where the problems of single workflow files go (default `diagnostics`), so
    that a caller can translate the other files when one of them is broken."""
    path = Path(path)
    workflow_dir = path if path.is_dir() else path.parent
    workflow_files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not path.exists():
        diagnostics.error(str(path), "no such file or directory")
        workflow_files = []
    found = _task_base(workflow_dir)
    base = found or workflow_dir
    task_dirs = [base / "tasks"] if found else []
    task_defs = load_directory_pair([], task_dirs, diagnostics).task_defs
    sources = load_directory_pair(workflow_files, [], workflow_diagnostics or diagnostics)
    options = _with_workers(load_options(base / OPTIONS_FILE, diagnostics))
    return Project(task_defs, sources.workflows, options, sources.files)


def load_for_path(
    path: Path, diagnostics: Diagnostics, workflow_diagnostics: Diagnostics | None = None
) -> tuple[Project, list[str]]:
    """The project `path` is translated in, and the names of the workflows to translate from it:
    what `imgpipe translate PATH` and `imgpipe run FILE` share.

    A directory is one project: every workflow in it, children across files. A file with a `tasks/`
    directory beside it (`<dir>/tasks` or `<dir>/../tasks`) belongs to its directory's project (its
    sibling files are its possible children); any other file joins imgpipe's own project
    (`statemachines/conductor`: its task definitions, options and workflows)."""
    path = Path(path)
    per_file = workflow_diagnostics or diagnostics
    if path.is_dir() or not path.exists():
        project = load_sources(path, diagnostics, per_file)
        return project, sorted(project.workflows)
    own = load_directory_pair([path], [], per_file)
    if _task_base(path.parent) is None:
        base = load_project()
    else:  # the siblings' own problems are reported when they are translated, not here
        base = load_sources(path.parent, diagnostics, Diagnostics())
    workflows = {**base.workflows, **own.workflows}
    return replace(base, workflows=workflows, files={**base.files, **own.files}), sorted(own.workflows)


def load_project(conductor_dir: Path = CONDUCTOR_DIR) -> Project:
    """The definitions the project deploys; raises TranslationError if any of them is invalid."""
    diagnostics = Diagnostics()
    project = load_sources(conductor_dir / "workflows", diagnostics)
    if diagnostics.errors:
        raise TranslationError(diagnostics.errors)
    return project


def translate_all(
    project: Project,
    *,
    express: bool | Container[str] = False,
    reserved_seconds: Mapping[str, float] | None = None,
    names: Iterable[str] | None = None,
) -> tuple[dict[str, Translation], list[Diagnostic]]:
    """Translate every workflow; never raises, returns the findings beside the results.

    `express`: the workflows the deployment runs as Express when they are Express-compatible (True:
    all of them; cdk.json `workflowType`/`workflowTypes`), so their throttle retries are fitted into
    Express's 5 minutes, less `reserved_seconds[name]` (what states deployed around a workflow, such
    as the trigger envelope, may take). `names`: only these workflows (default: all of them)."""
    translated: dict[str, Translation] = {}
    findings: list[Diagnostic] = []
    reserved = reserved_seconds or {}
    for name in sorted(project.workflows if names is None else names):
        workflow = project.workflows[name]
        translation = translate_workflow(workflow, project.task_defs, project.workflows, project.options)
        wanted = express if isinstance(express, bool) else name in express
        if wanted and translation.express_compatible:
            budget = int(EXPRESS_MAX_SECONDS - reserved.get(name, 0))
            express_options = project.options.replace(duration_budget_seconds=budget)
            translation = translate_workflow(workflow, project.task_defs, project.workflows, express_options)
        findings.extend(translation.diagnostics)
        translated[name] = translation
    return translated, findings


def translate_deployable(
    project: Project,
    *,
    express: bool | Container[str] = False,
    reserved_seconds: Mapping[str, float] | None = None,
    names: Iterable[str] | None = None,
) -> tuple[dict[str, Translation], list[Diagnostic]]:
    """The workflows of the project that can be deployed, and the findings of `names` (default: every
    workflow; the others are translated to tell whether `names` can start them): what `imgpipe translate`,
    `imgpipe run` and the CDK app (`translate_project`) all deploy.

    A workflow that starts a refused one by name (a literal SUB_WORKFLOW or START_WORKFLOW, a listed
    target) is refused too. A default target set (a name given as an expression, a legacy dynamic
    fork, with no translator.json entry) leaves the refused ones out instead: the workflows whose set
    held a newly refused one are translated again, with the refused ones named in the options
    (`TranslatorOptions.refused_workflows`), until no more are refused."""
    refused: dict[str, str] = {}
    translated: dict[str, Translation] = {}
    findings: dict[str, list[Diagnostic]] = {}
    pending = set(project.workflows)
    while pending:
        options = project.options.replace(refused_workflows=dict(refused))
        done, found = translate_all(
            replace(project, options=options),
            express=express,
            reserved_seconds=reserved_seconds,
            names=pending,
        )
        translated.update(done)
        for name in pending:
            findings[name] = [d for d in found if d.workflow == name]
        newly = {
            name: f"{error.location}: {error.message}"
            for name in sorted(pending)
            for error in [d for d in findings[name] if d.severity == "error"][:1]
        }
        for name, tw in sorted(translated.items()):
            children = sorted(tw.workflow_dependencies & set(refused))
            if name not in refused and name not in newly and children:
                message = f"starts sub-workflow(s) {', '.join(children)}, which could not be translated"
                refusal = Diagnostics(name)
                refusal.error("tasks", message)
                findings[name] += refusal.items
                newly[name] = message
        refused |= newly
        pending = {
            name
            for name, tw in translated.items()
            if name not in refused and tw.workflow_dependencies & set(newly)
        }
    deployable = {name: tw for name, tw in sorted(translated.items()) if name not in refused}
    wanted = sorted(project.workflows if names is None else names)
    return deployable, [d for name in wanted for d in findings[name]]


def translate_definition(definition: Mapping[str, Any], project: Project | None = None) -> Translation:
    """One workflow given from outside the project (e.g. `imgpipe run my_workflow.json`), translated
    with the project's task definitions, options and workflows (its SUB_WORKFLOW children).

    Raises pydantic's ValidationError for a malformed definition, TranslationError on error diagnostics.
    """
    loaded = project or load_project()
    workflow = WorkflowDef.model_validate(definition)
    translation = translate_workflow(workflow, loaded.task_defs, loaded.workflows, loaded.options)
    if not translation.ok:
        raise TranslationError([d for d in translation.diagnostics if d.severity == "error"])
    return translation


def translate_project(
    project: Project | None = None,
    *,
    express: bool | Container[str] = False,
    reserved_seconds: Mapping[str, float] | None = None,
) -> dict[str, Translation]:
    """Every workflow of the project, translated; raises TranslationError on error diagnostics.
    `express` as in `translate_all`: what CDK and the local runtime deploy (DeploymentConfig.
    express_workflows)."""
    translated, findings = translate_deployable(
        project or load_project(), express=express, reserved_seconds=reserved_seconds
    )
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
