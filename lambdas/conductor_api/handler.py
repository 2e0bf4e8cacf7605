"""Lambda entry point of Conductor's REST API on AWS, behind an IAM-authorized HTTP API
(handler string: lambdas.conductor_api.handler.handler).

Start, status, terminate, retry and task updates are the shared Step Functions calls of
lambdas/conductor, over the stack's state machines (CONDUCTOR_WORKFLOWS). Registration
(`/api/metadata/*`) is answered 405: the deployed workflows are what `cdk deploy` shipped. Endpoints
with no Step Functions counterpart are 501 naming the endpoint; everything else under /api is 404.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from lambdas.adapters import stepfunctions
from lambdas.conductor import executions as conductor
from lambdas.conductor import task_updates
from lambdas.conductor.bodies import parse_json_body
from lambdas.conductor.endpoints import unsupported
from lambdas.conductor.errors import ConductorError
from lambdas.conductor.executions import MAX_EXECUTION_INPUT_BYTES, Executions
from lambdas.conductor.task_updates import MAX_TASK_UPDATE_BYTES
from lambdas.conductor_api.environment import ConductorApiSettings
from lambdas.observability import MetricUnit, logger, metrics, tracer

# Lambda's synchronous response payload quota is 6 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); a larger status
# document is refused with a hint instead of failing as an opaque 502.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 - 64 * 1024
# StartWorkflowRequest: the input plus a few small fields (workflowDef is refused).
MAX_START_REQUEST_BYTES = MAX_EXECUTION_INPUT_BYTES + 16 * 1024
REGISTRATION = (
    "registers definitions with Conductor; on AWS the workflows are the state machines `cdk deploy` "
    "ships from statemachines/conductor/: add or change the definition there and deploy again"
)

app = APIGatewayHttpResolver()


def _executions() -> Executions:
    return Executions(stepfunctions.client(), ConductorApiSettings.from_env())


def _body(empty: Any = None, limit: int = MAX_EXECUTION_INPUT_BYTES) -> Any:
    """The request body as JSON; API Gateway base64-encodes bodies it does not take for text."""
    event = app.current_event
    text = event.body or ""
    raw = base64.b64decode(text) if event.is_base64_encoded else text.encode("utf-8")
    return parse_json_body(raw, limit, empty=empty)


def _text(value: str) -> Response:
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body=value)


def _error(error: ConductorError) -> Response:
    # A 405 names the methods the resource allows: none here (RFC 9110, 15.5.6 and 10.2.1).
    headers = {"Allow": ""} if error.status == 405 else None
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(error.body()),
        headers=headers,
    )


def _not_routed(app: APIGatewayHttpResolver, next_middleware: Callable[..., Response]) -> Response:
    """Registration and the endpoints Step Functions has no counterpart for, before any route
    matches (`GET /api/workflow/search` would otherwise be read as a workflow id)."""
    method, path = app.current_event.http_method, app.current_event.path
    if path == "/api/metadata" or path.startswith("/api/metadata/"):
        if method == "GET":
            return _error(ConductorError(405, f"GET {path}: the definitions are in statemachines/conductor/"))
        return _error(ConductorError(405, f"{method} {path} {REGISTRATION}"))
    reason = unsupported(method, path)
    if reason is not None:
        return _error(ConductorError(501, reason))
    return next_middleware(app)


app.use(middlewares=[_not_routed])


@app.post("/api/workflow")
def start_request() -> Response:
    request = conductor.start_request_from_body(_body(limit=MAX_START_REQUEST_BYTES))
    return _started(request)


@app.post("/api/workflow/<name>")
def start(name: str) -> Response:
    query = app.current_event.query_string_parameters
    return _started(conductor.start_request_from_query(name, query, _body(empty={})))


def _started(request: conductor.StartRequest) -> Response:
    workflow_id = _executions().start(request)
    # correlationId and priority have no Step Functions field: they are in this log line only.
    logger.info(
        "workflow started",
        extra={
            "workflow": request.name,
            "workflowId": workflow_id,
            "correlationId": request.correlation_id,
            "priority": request.priority,
        },
    )
    metrics.add_metric(name="ConductorWorkflowsStarted", unit=MetricUnit.Count, value=1)
    return _text(workflow_id)


@app.get("/api/workflow/<workflow_id>")
def status(workflow_id: str) -> Response:
    query = app.current_event.query_string_parameters
    document = _executions().document(workflow_id, conductor.query_flag(query, "includeTasks", True))
    body = json.dumps(document, default=str)
    if len(body.encode()) > MAX_RESPONSE_BYTES:
        raise ConductorError(
            500,
            f"the status document of {workflow_id} is {len(body.encode()):,} bytes, over Lambda's 6 MB "
            "response quota: ask with includeTasks=false, or read the history with "
            "`aws stepfunctions get-execution-history`",
        )
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


@app.delete("/api/workflow/<workflow_id>")
def terminate(workflow_id: str) -> Response:
    reason = (app.current_event.query_string_parameters or {}).get("reason")
    _executions().terminate(workflow_id, reason)
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body="")


@app.post("/api/workflow/<workflow_id>/retry")
def retry(workflow_id: str) -> Response:
    _executions().retry(workflow_id)
    return Response(status_code=204, content_type=content_types.TEXT_PLAIN, body="")


@app.post("/api/tasks")
def update_task() -> Response:
    update = task_updates.update_from_body(_body(limit=MAX_TASK_UPDATE_BYTES))
    return _updated(update)


@app.post("/api/tasks/<workflow_id>/<task_ref>/<status>")
def update_task_by_reference(workflow_id: str, task_ref: str, status: str) -> Response:
    output = _body(empty={}, limit=MAX_TASK_UPDATE_BYTES)
    return _updated(task_updates.update_from_path(workflow_id, task_ref, status, output))


def _updated(update: task_updates.TaskUpdate) -> Response:
    task_id = _executions().update_task(update)
    logger.info(
        "task updated",
        extra={"workflowId": update.workflow_id, "taskId": task_id, "status": update.status},
    )
    metrics.add_metric(name="ConductorTasksUpdated", unit=MetricUnit.Count, value=1)
    return _text(task_id)


@app.exception_handler(ConductorError)
def conductor_error(error: ConductorError) -> Response:
    if error.status >= 500:
        logger.error("Conductor API failed", extra={"status": error.status, "reason": error.message})
    return _error(error)


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response:
    """Anything else: logged with its traceback, answered as Conductor's ErrorResponse naming only
    the error's type and the request id (the details stay in the function's log)."""
    logger.exception("Conductor API call failed")
    metrics.add_metric(name="ConductorApiErrors", unit=MetricUnit.Count, value=1)
    request_id = app.lambda_context.aws_request_id if app.lambda_context else "unknown"
    message = f"{type(error).__name__} (request {request_id}); see the function's log"
    return _error(ConductorError(500, message))


@app.not_found
def not_found(_: Exception) -> Response:
    event = app.current_event
    return _error(
        ConductorError(404, f"{event.http_method} {event.path}: not a Conductor endpoint imgpipe answers")
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
