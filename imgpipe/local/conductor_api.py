"""Conductor's REST API (`/api/metadata/...`, `/api/workflow/...`) in front of the local Step Functions.

The seed tutorials drive Conductor with curl; these routes answer the same calls on `imgpipe serve`'s
port. Definitions are validated and translated by the project's translator and deployed as state
machines of the local engine; executions are started, read, stopped and redriven by the code the
AWS function runs (lambdas/conductor: the same Step Functions API calls, the same status document),
so the state machines stay the only record of a run. Errors have
Conductor's `ErrorResponse` shape (`status`, `message`, `validationErrors: [{path, message,
invalidValue}]`), a refused definition carries the translator's diagnostics, and the endpoints that
have no Step Functions counterpart answer 501 saying why (docs/local.md, "Conductor's REST API").
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from imgpipe.config import ON_DEMAND_WORKER_TASKS, WORKER_TASKS
from imgpipe.local.engine import EngineError, LocalAws
from imgpipe.local.workflows import MAX_DEFINITION_BYTES
from lambdas.conductor import executions as conductor
from lambdas.conductor import task_updates
from lambdas.conductor.bodies import parse_json_body
from lambdas.conductor.endpoints import UNSUPPORTED as WORKFLOW_UNSUPPORTED
from lambdas.conductor.endpoints import unsupported_message
from lambdas.conductor.errors import ConductorError, not_found, refused
from lambdas.conductor.executions import MAX_EXECUTION_INPUT_BYTES, WorkflowTarget, checked_name
from lambdas.conductor.task_updates import MAX_TASK_UPDATE_BYTES

CONDUCTOR_PATHS = ("/api/",)


# --- hostile input ---------------------------------------------------------------------------------
def read_json_body(limit: int, *, empty: Any = None) -> Any:
    """The request body as JSON (lambdas.conductor.bodies), refused before reading when the declared
    length is already over ``limit``."""
    length = request.content_length
    if length is not None and length > limit:
        raise ConductorError(413, f"request body is {length} bytes; at most {limit} are accepted here")
    return parse_json_body(request.get_data(cache=False), limit, empty=empty)


def _value_at(document: Any, location: str) -> str | None:
    """The primitive value a diagnostic's location (`tasks[1].name`) points at (ValidationError's
    invalidValue)."""
    current = document
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", location):
        if index and isinstance(current, list) and int(index) < len(current):
            current = current[int(index)]
        elif name and isinstance(current, dict) and name in current:
            current = current[name]
        else:
            return None
    return None if isinstance(current, dict | list) or current is None else str(current)


def _pydantic_errors(error: Any, prefix: str, document: Any) -> list[dict[str, Any]]:
    found = []
    for problem in error.errors():
        path = prefix
        for part in problem["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        found.append(
            {"path": path or "body", "message": problem["msg"], "invalidValue": _value_at(document, path)}
        )
    return found


# --- the registry ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegisteredWorkflow:
    definition: dict[str, Any]
    version: int
    project: bool  # one of statemachines/conductor/workflows: deployed as is, never replaced here


class Registry:
    """Task definitions and workflows as Conductor's metadata API sees them, backed by the engine.

    Starts with the project's definitions (what `cdk deploy` ships). A workflow registered here is
    translated with the registered task definitions, the project's workflows (its sub-workflows) and
    translator options, then created (CreateStateMachine) or replaced (UpdateStateMachine) as
    `<prefix>-<name>`. One version per workflow: the state machine is the definition.
    """

    def __init__(self, engine: LocalAws) -> None:
        from statemachines.project import load_project

        self.engine = engine
        self.project = load_project()
        self.lock = threading.RLock()
        self.express: dict[str, bool] = {}  # state machine ARN -> whether it is Express (never changes)
        self.sfn = engine.sfn  # one client, made here: boto3's client creation is not thread-safe
        self.task_defs: dict[str, dict[str, Any]] = {
            name: _definition_file(_task_file(name), task.model_dump(mode="json", exclude_unset=True))
            for name, task in self.project.task_defs.items()
        }
        self.workflows: dict[str, RegisteredWorkflow] = {
            name: RegisteredWorkflow(
                _definition_file(
                    self.project.files.get(name), workflow.model_dump(mode="json", exclude_unset=True)
                ),
                workflow.version,
                project=True,
            )
            for name, workflow in self.project.workflows.items()
        }

    # task definitions
    def register_task_defs(self, document: Any) -> None:
        if not isinstance(document, list):
            refused(
                [
                    {
                        "path": "body",
                        "message": "POST /api/metadata/taskdefs takes a JSON list of task definitions",
                    }
                ]
            )
        if not document:
            refused([{"path": "body", "message": "the list of task definitions is empty"}])
        parsed = [self._task_def(item, f"taskDefs[{index}]") for index, item in enumerate(document)]
        with self.lock:
            for item in parsed:
                self.task_defs[item["name"]] = item

    def update_task_def(self, document: Any) -> None:
        item = self._task_def(document, "taskDef")
        with self.lock:
            if item["name"] not in self.task_defs:
                not_found(f"No such taskType found by name: {item['name']}")
            self.task_defs[item["name"]] = item

    @staticmethod
    def _task_def(document: Any, path: str) -> dict[str, Any]:
        from pydantic import ValidationError

        from statemachines.translator.model import TaskDef

        if not isinstance(document, dict):
            refused([{"path": path, "message": "a task definition is a JSON object"}])
        try:
            task = TaskDef.model_validate(document)
        except ValidationError as error:
            refused(_pydantic_errors(error, path, document))
        checked_name(task.name, f"{path}.name")
        return document

    # workflows
    def create_workflow(self, document: Any) -> None:
        with self.lock:
            translated, definition = self._translate(document, "")
            existing = self.workflows.get(translated.name)
            if existing is not None and existing.project:
                if self._same_definition(existing.definition, definition):
                    return  # the project's own file: already deployed
                raise ConductorError(
                    409,
                    f"Workflow with {translated.name}.{existing.version} already exists: it is one of the "
                    "project's workflows (statemachines/conductor/workflows), deployed as is. Change it "
                    "there and restart `imgpipe serve`, or register this definition under another name.",
                )
            if existing is not None:
                raise ConductorError(
                    409,
                    f"Workflow with {translated.name}.{existing.version} already exists: "
                    "PUT /api/metadata/workflow replaces it",
                )
            self._deploy(translated, definition, update=False)

    def update_workflows(self, document: Any) -> None:
        if not isinstance(document, list) or not document:
            refused(
                [
                    {
                        "path": "body",
                        "message": "PUT /api/metadata/workflow takes a JSON list of workflow definitions",
                    }
                ]
            )
        with self.lock:
            checked = [self._translate(item, f"[{index}]") for index, item in enumerate(document)]
            for index, (translated, _) in enumerate(checked):
                existing = self.workflows.get(translated.name)
                if existing is not None and existing.project:
                    raise ConductorError(
                        409,
                        f"[{index}] {translated.name}: a project workflow "
                        "(statemachines/conductor/workflows) "
                        "is deployed as is and cannot be replaced over the API",
                    )
            for translated, definition in checked:
                self._deploy(translated, definition, update=translated.name in self.workflows)

    def workflow(self, name: str, version: int | None = None) -> RegisteredWorkflow:
        with self.lock:
            found = self.workflows.get(name)
        if found is None or (version is not None and version != found.version):
            suffix = f", version: {version}" if version is not None else ""
            hint = (
                f" (registered: version {found.version}; imgpipe keeps one version per workflow)"
                if found
                else ""
            )
            not_found(f"No such workflow found by name: {name}{suffix}{hint}")
        return found

    # the catalog lambdas.conductor.executions.Executions reads
    def target(self, name: str, version: int | None) -> WorkflowTarget:
        registered = self.workflow(checked_name(name, "name"), version)
        return self._target(name, registered)

    def targets(self) -> list[WorkflowTarget]:
        with self.lock:
            registered = dict(self.workflows)
        arns = self.engine.deployment.state_machine_arns
        return [self._target(name, workflow) for name, workflow in registered.items() if name in arns]

    def _target(self, name: str, registered: RegisteredWorkflow) -> WorkflowTarget:
        arn = self.engine.state_machine_arn(name)
        with self.lock:
            express = self.express.get(arn)
            if express is None:
                described = self.sfn.describe_state_machine(stateMachineArn=arn)
                express = self.express[arn] = described["type"] == "EXPRESS"
        return WorkflowTarget(name, registered.version, arn, registered.definition, express)

    def _same_definition(self, first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
        from statemachines.translator.model import WorkflowDef

        return (
            WorkflowDef.model_validate(first).model_dump() == WorkflowDef.model_validate(second).model_dump()
        )

    def _translate(self, document: Any, path: str) -> tuple[Any, dict[str, Any]]:
        """Validate and translate one definition; every refusal is a 400 with the diagnostics."""
        from pydantic import ValidationError

        from statemachines.project import translate_definition
        from statemachines.translator import TranslationError
        from statemachines.translator.model import TaskDef, WorkflowDef

        if not isinstance(document, dict):
            refused([{"path": path or "body", "message": "a workflow definition is a JSON object"}])
        prefix = f"{path}." if path else ""
        project = replace(
            self.project,
            task_defs={name: TaskDef.model_validate(raw) for name, raw in self.task_defs.items()},
            workflows={
                **self.project.workflows,
                **{
                    n: WorkflowDef.model_validate(w.definition)
                    for n, w in self.workflows.items()
                    if not w.project
                },
            },
        )
        try:
            translated = translate_definition(document, project)
        except ValidationError as error:
            refused(_pydantic_errors(error, path, document))
        except TranslationError as error:
            refused(
                [
                    {
                        "path": f"{prefix}{d.location}",
                        "message": d.message,
                        "invalidValue": _value_at(document, d.location),
                    }
                    for d in error.diagnostics
                ]
            )
        # a task no Lambda worker serves translates to an activity, which nothing here polls
        served = {*WORKER_TASKS, *ON_DEMAND_WORKER_TASKS}
        unserved = sorted((set(translated.lambda_tasks) - served) | set(translated.activity_tasks))
        if unserved:
            refused(
                [
                    {
                        "path": f"{prefix}{location}",
                        "message": f"SIMPLE task '{task}' has no worker in this project "
                        f"(workers: {', '.join(WORKER_TASKS)})",
                        "invalidValue": task,
                    }
                    for task in unserved
                    for location in _task_name_locations(document, task)
                ]
            )
        machine = self.engine.config.state_machine_name(translated.name)
        if len(machine) > 80:
            refused(
                [
                    {
                        "path": f"{prefix}name",
                        "message": f"the state machine name {machine!r} is over 80 characters",
                    }
                ]
            )
        return translated, document

    def _deploy(self, translated: Any, definition: dict[str, Any], *, update: bool) -> None:
        try:
            if update:
                self.engine.update_workflow(translated)
            else:
                self.engine.add_workflow(translated)
        except EngineError as error:
            refused([{"path": "name", "message": str(error), "invalidValue": translated.name}])
        version = definition.get("version", 1)
        self.workflows[translated.name] = RegisteredWorkflow(definition, version, project=False)


def _definition_file(path: Path | None, fallback: dict[str, Any]) -> dict[str, Any]:
    """A definition as its file has it (what GET answers), else the validated model."""
    if path is not None and path.is_file():
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    return fallback


def _task_file(name: str) -> Path | None:
    from statemachines.project import CONDUCTOR_DIR

    path = CONDUCTOR_DIR / "tasks" / f"{name}.json"
    return path if path.is_file() else None


def _task_name_locations(document: Any, task_name: str, path: str = "") -> list[str]:
    """Where a definition uses a task name (`tasks[1].name`), forks and cases included."""
    found: list[str] = []
    if isinstance(document, dict):
        if document.get("name") == task_name and "taskReferenceName" in document:
            found.append(f"{path}.name" if path else "name")
        for key, value in document.items():
            found += _task_name_locations(value, task_name, f"{path}.{key}" if path else key)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _task_name_locations(value, task_name, f"{path}[{index}]")
    return found or ([] if path else ["tasks"])


# --- executions ------------------------------------------------------------------------------------
class Executions(conductor.Executions):
    """The shared start/read/stop/redrive (lambdas/conductor/executions.py) over the engine, keeping
    the correlationId, priority and terminate reason of the runs it started."""

    def __init__(self, engine: LocalAws, registry: Registry) -> None:
        super().__init__(registry.sfn, registry, metadata={})

    def retry(self, workflow_id: str) -> None:
        try:
            super().retry(workflow_id)
        except ConductorError as error:  # the local engine answers ExecutionNotRedrivable (sfn_api_fixes)
            if error.service_code != "ExecutionNotRedrivable":
                raise
            raise ConductorError(
                501,
                "POST /api/workflow/{workflowId}/retry is Step Functions' RedriveExecution, which the local "
                f"engine (moto) does not implement ({error}). On AWS, `aws stepfunctions redrive-execution` "
                "restarts a Standard execution from its failed state.",
            ) from error


# --- endpoints without a Step Functions counterpart -----------------------------------------------
KEPT = "the local engine keeps its definitions and state machines until it stops"
UNSUPPORTED: tuple[tuple[str, str, str], ...] = (
    *WORKFLOW_UNSUPPORTED,
    ("DELETE", "/metadata/workflow/<name>/<int:version>", KEPT),
    ("DELETE", "/metadata/taskdefs/<name>", KEPT),
)


def conductor_blueprint(registry: Registry, executions: Executions) -> Blueprint:
    api = Blueprint("conductor", __name__, url_prefix="/api")
    writes: tuple[tuple[str, str, Callable[[Any], None]], ...] = (
        ("POST", "/metadata/taskdefs", registry.register_task_defs),
        ("PUT", "/metadata/taskdefs", registry.update_task_def),
        ("POST", "/metadata/workflow", registry.create_workflow),
        ("PUT", "/metadata/workflow", registry.update_workflows),
    )
    for method, rule, action in writes:
        api.add_url_rule(rule, f"{method} {rule}", _metadata_write(action), methods=[method])

    @api.get("/metadata/taskdefs")
    def list_task_defs() -> Any:
        with registry.lock:
            return list(registry.task_defs.values())

    @api.get("/metadata/taskdefs/<name>")
    def get_task_def(name: str) -> Any:
        with registry.lock:
            found = registry.task_defs.get(checked_name(name, "taskType"))
        if found is None:
            not_found(f"No such taskType found by name: {name}")
        return found

    @api.get("/metadata/workflow")
    def list_workflows() -> Any:
        with registry.lock:
            return [w.definition for w in registry.workflows.values()]

    @api.get("/metadata/workflow/<name>")
    def get_workflow(name: str) -> Any:
        return registry.workflow(
            checked_name(name, "name"), conductor.query_int(request.args, "version", None)
        ).definition

    @api.post("/workflow")
    def start_request() -> Response:
        body = read_json_body(MAX_EXECUTION_INPUT_BYTES + MAX_DEFINITION_BYTES)
        workflow_id = executions.start(conductor.start_request_from_body(body))
        return Response(workflow_id, mimetype="text/plain")

    @api.post("/workflow/<name>")
    def start(name: str) -> Response:
        workflow_input = read_json_body(MAX_EXECUTION_INPUT_BYTES, empty={})
        workflow_id = executions.start(conductor.start_request_from_query(name, request.args, workflow_input))
        return Response(workflow_id, mimetype="text/plain")

    @api.get("/workflow/<workflow_id>")
    def status(workflow_id: str) -> Any:
        return executions.document(workflow_id, conductor.query_flag(request.args, "includeTasks", True))

    @api.delete("/workflow/<workflow_id>")
    def terminate(workflow_id: str) -> Response:
        executions.terminate(workflow_id, request.args.get("reason"))
        return Response(status=200)

    @api.post("/workflow/<workflow_id>/retry")
    def retry(workflow_id: str) -> Response:
        executions.retry(workflow_id)
        return Response(status=204)

    @api.post("/tasks")
    def update_task() -> Response:
        update = task_updates.update_from_body(read_json_body(MAX_TASK_UPDATE_BYTES))
        return Response(executions.update_task(update), mimetype="text/plain")

    @api.post("/tasks/<workflow_id>/<task_ref>/<status>")
    def update_task_by_reference(workflow_id: str, task_ref: str, status: str) -> Response:
        output = read_json_body(MAX_TASK_UPDATE_BYTES, empty={})
        update = task_updates.update_from_path(workflow_id, task_ref, status, output)
        return Response(executions.update_task(update), mimetype="text/plain")

    for method, rule, why in UNSUPPORTED:
        api.add_url_rule(
            rule, f"unsupported {method} {rule}", _unsupported(method, rule, why), methods=[method]
        )
    return api


def _metadata_write(action: Callable[[Any], None]) -> Callable[[], Response]:
    """A metadata write: the JSON body to the registry; Conductor answers 200 with no body."""

    def answer() -> Response:
        action(read_json_body(MAX_DEFINITION_BYTES))
        return Response(status=200)

    return answer


def _unsupported(method: str, rule: str, why: str) -> Callable[..., Response]:
    def answer(**_: Any) -> Response:
        raise ConductorError(501, unsupported_message(method, rule, why))

    return answer


def create_app(engine: LocalAws) -> Flask:
    """The Conductor API over one engine (`imgpipe serve`'s execution pages are imgpipe.viewer's)."""
    registry = Registry(engine)
    executions = Executions(engine, registry)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_EXECUTION_INPUT_BYTES + MAX_DEFINITION_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(conductor_blueprint(registry, executions))

    @app.errorhandler(ConductorError)
    def conductor_error(error: ConductorError) -> tuple[Any, int]:
        return error.body(), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Any, int]:
        status = error.code or 500
        message = {404: f"{request.method} {request.path}: not a Conductor endpoint imgpipe answers"}.get(
            status, error.description or error.name
        )
        return ConductorError(status, message).body(), status

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Any, int]:
        app.logger.exception("Conductor API: %s %s failed", request.method, request.path)
        return ConductorError(500, f"{type(error).__name__}: {error}"[:1000]).body(), 500

    return app


def is_aws_request(environ: Mapping[str, Any]) -> bool:
    """SigV4-signed requests (every AWS CLI/SDK call) always go to the AWS endpoint, whatever the path."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    query = str(environ.get("QUERY_STRING", ""))
    return (
        authorization.startswith(("AWS4-", "AWS "))
        or "X-Amz-Signature=" in query
        or "X-Amz-Credential=" in query
    )


class ConductorDispatcher:
    """WSGI: unsigned requests under /api/ to the Conductor app, the rest to moto's."""

    def __init__(self, conductor: Any, aws: Any) -> None:
        self.conductor = conductor
        self.aws = aws

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(CONDUCTOR_PATHS) and not is_aws_request(environ):
            return self.conductor(environ, start_response)
        return self.aws(environ, start_response)
