"""HTTP: Conductor's HTTP system task as a Step Functions HTTP Task (`arn:aws:states:::http:invoke`).

Conductor (`http-task/.../HttpTask.java`) reads `http_request` from the task input (`uri`, `method`,
`headers`, `body`, `accept` and `contentType`, both `application/json` by default,
`connectionTimeOut`, `readTimeOut` in ms), sends it, and outputs `response`: `{body, headers,
statusCode, reasonPhrase}`; a status outside 200-299 fails the task. The HTTP Task sends the same
request and answers `{StatusCode, StatusText, Headers, ResponseBody}`, failing outside 2xx with
`States.Http.StatusCode.<code>` (https://docs.aws.amazon.com/step-functions/latest/dg/call-https-apis.html);
two Pass states rename that to Conductor's shape. Authentication comes from an EventBridge
connection, never from the definition: a credential header must name one (translator option
`http_connections`), every other task uses the `default` connection.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from statemachines.translator.asl_states import PLACEHOLDER_NAME, link
from statemachines.translator.expressions import Literal, Path
from statemachines.translator.missing_paths import ensure_outputs
from statemachines.translator.model import TaskDef
from statemachines.translator.retries import TaskPolicy, conductor_policy, warn_unmapped_workflow_task
from statemachines.translator.task_definitions import governing_task_def
from statemachines.translator.task_states import optional_catch

if TYPE_CHECKING:
    from statemachines.translator.emitter import WorkflowEmitter
    from statemachines.translator.registry import EmitSite

HTTP_INVOKE = "arn:aws:states:::http:invoke"
REQUEST_PARAMETER = "http_request"
REQUEST_FIELDS = frozenset(
    {"uri", "method", "headers", "body", "accept", "contentType", "connectionTimeOut", "readTimeOut"}
)
# Eureka service discovery (vipAddress/appName) has no Step Functions counterpart
DISCOVERY_FIELDS = frozenset({"vipAddress", "appName"})
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
# HttpTask.Input's defaults for the Content-Type and Accept headers it always sends
DEFAULT_MEDIA_TYPE = "application/json"
# DefaultRestTemplateProvider: conductor.tasks.http.connectTimeout 100ms, readTimeout 150ms
CONDUCTOR_CONNECT_TIMEOUT_MS = 100
CONDUCTOR_READ_TIMEOUT_MS = 150
# Headers that carry credentials: an EventBridge connection adds them, a definition never holds them
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
DEFAULT_CONNECTION = "default"
# Headers an HTTP Task definition may not set (the task fails with States.Runtime): AWS's list,
# https://docs.aws.amazon.com/step-functions/latest/dg/call-https-apis.html (credentials aside)
UNSUPPORTED_HEADERS = frozenset(
    {
        "a-im", "accept-charset", "accept-datetime", "accept-encoding", "cache-control", "connection",
        "content-encoding", "content-md5", "date", "expect", "forwarded", "from", "host", "http2-settings",
        "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
        "max-forwards", "origin", "pragma", "referer", "server", "te", "trailer", "transfer-encoding",
        "upgrade", "via", "warning",
    }
)  # fmt: skip
UNSUPPORTED_HEADER_PREFIXES = ("x-forwarded-", "x-amz-", "x-amzn-")
# Without a task definition Conductor's HTTP task has no retry policy of its own: not retried
NO_DEFINITION = TaskDef.model_validate({"name": "HTTP", "retryCount": 0, "responseTimeoutSeconds": 0})


def connection_placeholder(connection: str) -> str:
    return f"ConnectionArn_{connection}"


def connection_name(prefix: str, connection: str) -> str:
    """The deployed EventBridge connection of `connection` (infra/http_connections.py)."""
    return f"{prefix}-{connection}"


def emit_http(emitter: WorkflowEmitter, site: EmitSite) -> str | None:
    task, states = site.task, site.states
    ref = task.taskReferenceName
    where = f"{site.location}.inputParameters.{REQUEST_PARAMETER}"
    request = task.inputParameters.get(REQUEST_PARAMETER)
    if not isinstance(request, dict):
        emitter.diagnostics.error(
            where,
            f"HTTP '{ref}' needs an {REQUEST_PARAMETER} object (uri, method, ...): Conductor fails without",
        )
        return site.next_name
    if task.model_extra and task.model_extra.get("asyncComplete"):
        emitter.diagnostics.error(
            f"{site.location}.asyncComplete",
            f"HTTP '{ref}' with asyncComplete waits to be completed from outside: not translated",
        )
        return site.next_name
    arguments = _arguments(emitter, ref, request, where)
    if arguments is None:
        return site.next_name
    warn_unmapped_workflow_task(task, emitter.diagnostics, site.location)
    after = ensure_outputs(emitter, ref, states, site.next_name)
    if ref in emitter.analysis.inputs_read:
        keep = emitter.names.allocate(f"{ref}: keep input")
        states[keep] = link(
            {
                "Type": "Pass",
                "Comment": "Keeps the task input: another expression reads it",
                "Parameters": emitter.analysis.parameters(
                    task.inputParameters, f"{site.location}.inputParameters"
                ),
                "ResultPath": f"$.tasks.{ref}.input",
            },
            after,
        )
        after = keep
    shaped = _response_states(emitter, ref, states, after)
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": "Conductor HTTP task: the request of http_request, through an EventBridge connection",
        "Resource": HTTP_INVOKE,
        "Parameters": arguments,
        "ResultPath": f"$.tasks.{ref}.http",
    }
    policy = _policy(emitter, site, request)
    state.update(policy.fields)
    if task.optional:
        state["Catch"] = [optional_catch(emitter, ref, states, after, errors=policy.optional_catch_errors)]
    name = emitter.names.allocate(ref)
    states[name] = link(state, shaped)
    return name


def _arguments(
    emitter: WorkflowEmitter, ref: str, request: dict[str, Any], where: str
) -> dict[str, Any] | None:
    """The HTTP Task's Parameters, or None (reported) when the request cannot be translated."""
    errors = len(emitter.diagnostics.errors)
    for key in sorted(set(request) & DISCOVERY_FIELDS):
        emitter.diagnostics.error(
            f"{where}.{key}", f"HTTP '{ref}': {key} (Eureka service discovery) is not translated; give a uri"
        )
    for key in sorted(set(request) - REQUEST_FIELDS - DISCOVERY_FIELDS):
        emitter.diagnostics.warning(
            f"{where}.{key}", f"HTTP '{ref}': {key} is not an HttpTask input: ignored"
        )
    arguments: dict[str, Any] = {}
    endpoint = _endpoint(emitter, ref, request.get("uri"), f"{where}.uri")
    method = _method(emitter, ref, request.get("method"), f"{where}.method")
    if endpoint is not None and method is not None:
        for key, value in (("ApiEndpoint", endpoint), ("Method", method)):
            arguments[f"{key}.$" if isinstance(value, Path) else key] = (
                value.asl if isinstance(value, Path) else value.value
            )
    connection = _connection(emitter, ref, request.get("headers"), f"{where}.headers")
    headers = _headers(emitter, ref, request, where)
    if len(emitter.diagnostics.errors) > errors or connection is None or headers is None:
        return None
    arguments["Authentication"] = {"ConnectionArn": f"${{{connection_placeholder(connection)}}}"}
    arguments["Headers"] = headers
    if request.get("body") is not None:
        body = request["body"]
        if isinstance(body, dict):
            arguments["RequestBody"] = emitter.analysis.parameters(body, f"{where}.body")
        else:
            resolved = emitter.analysis.value(body, f"{where}.body")
            if isinstance(resolved, Path):
                arguments["RequestBody.$"] = resolved.asl
            elif resolved is not None:
                arguments["RequestBody"] = resolved.value
    emitter.result.http_endpoints.add(endpoint_pattern(request["uri"]))
    return arguments


def endpoint_pattern(uri: str) -> str:
    """The `states:HTTPEndpoint` pattern (IAM StringLike) the task's uri always matches: the uri
    itself, or its literal part before the first expression followed by `*`."""
    literal = uri.split("${", 1)[0].replace("$${", "${")
    if literal == uri:
        return uri
    return f"{literal}*" if literal.lower().startswith("https://") else "https://*"


def _endpoint(emitter: WorkflowEmitter, ref: str, uri: Any, where: str) -> Path | Literal | None:
    if not isinstance(uri, str) or not uri:
        emitter.diagnostics.error(where, f"HTTP '{ref}' needs a uri: Conductor fails the task without")
        return None
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme and "${" not in scheme and scheme != "https":
        emitter.diagnostics.error(
            where,
            f"HTTP '{ref}': {uri!r} is not https: the Step Functions HTTP Task calls https endpoints only",
        )
        return None
    resolved = emitter.analysis.value(uri, where)
    if isinstance(resolved, Path) and not scheme:
        emitter.diagnostics.warning(
            where, f"HTTP '{ref}': the uri is only known at run time; the HTTP Task fails unless it is https"
        )
    return resolved


def _method(emitter: WorkflowEmitter, ref: str, method: Any, where: str) -> Path | Literal | None:
    if not isinstance(method, str) or not method:
        emitter.diagnostics.error(where, f"HTTP '{ref}' needs a method: Conductor fails the task without")
        return None
    resolved = emitter.analysis.value(method, where)
    if isinstance(resolved, Literal):
        if str(resolved.value).upper() not in METHODS:
            emitter.diagnostics.error(
                where, f"HTTP '{ref}': method {method!r} is not one of {', '.join(sorted(METHODS))}"
            )
            return None
        return Literal(str(resolved.value).upper())
    return resolved


def _connection(emitter: WorkflowEmitter, ref: str, headers: Any, where: str) -> str | None:
    """The EventBridge connection of the task: the one `http_connections` names, else `default`."""
    key = f"{emitter.workflow.name}.{ref}"
    named = emitter.options.http_connections.get(key)
    credentials = sorted(
        str(h) for h in (headers or {}) if isinstance(headers, dict) and str(h).lower() in CREDENTIAL_HEADERS
    )
    if credentials and named is None:
        emitter.diagnostics.error(
            f"{where}.{credentials[0]}",
            f"HTTP '{ref}': credentials never go into a state machine definition; keep them in an "
            f"EventBridge connection and name it in translator.json http_connections['{key}'] "
            "(the connection then sends the header)",
        )
        return None
    connection = named or DEFAULT_CONNECTION
    if not PLACEHOLDER_NAME.match(connection):
        emitter.diagnostics.error(
            where, f"HTTP '{ref}': connection name {connection!r} must be letters, digits and _ only"
        )
        return None
    for header in credentials:
        emitter.diagnostics.warning(
            f"{where}.{header}",
            f"HTTP '{ref}': the {header} header is left out; connection '{connection}' sends its own",
        )
    return connection


def _headers(
    emitter: WorkflowEmitter, ref: str, request: dict[str, Any], where: str
) -> dict[str, Any] | None:
    """Content-Type and Accept as Conductor always sends them, then the task's own headers."""
    given = request.get("headers") or {}
    if not isinstance(given, dict):
        emitter.diagnostics.error(f"{where}.headers", f"HTTP '{ref}': headers must be an object")
        return None
    sent: dict[str, Any] = {
        "Content-Type": request.get("contentType") or DEFAULT_MEDIA_TYPE,
        "Accept": request.get("accept") or DEFAULT_MEDIA_TYPE,
    }
    for key in ("Content-Type", "Accept"):
        if "${" in str(sent[key]):
            emitter.diagnostics.error(
                f"{where}.{'contentType' if key == 'Content-Type' else 'accept'}",
                f"HTTP '{ref}': {key} must be literal (Conductor parses it as a media type)",
            )
            return None
    for name, value in given.items():
        if str(name).lower() in CREDENTIAL_HEADERS or value is None:
            continue  # a credential header comes from the connection; Conductor skips null values
        lowered = str(name).lower()
        if lowered in UNSUPPORTED_HEADERS or lowered.startswith(UNSUPPORTED_HEADER_PREFIXES):
            emitter.diagnostics.error(
                f"{where}.headers.{name}",
                f"HTTP '{ref}': the Step Functions HTTP Task cannot send the {name} header "
                "(it fails with States.Runtime)",
            )
            return None
        for existing in [k for k in sent if k.lower() == str(name).lower()]:
            del sent[existing]
        resolved = emitter.analysis.value(value, f"{where}.headers.{name}")
        if isinstance(resolved, Path):
            sent[f"{name}.$"] = resolved.asl
        elif resolved is not None:
            literal = resolved.value
            sent[str(name)] = literal if isinstance(literal, str) else _java_text(literal)
    return sent


def _java_text(value: Any) -> str:
    """`value.toString()` as HttpTask adds a header: true, 3, 2.5."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _policy(emitter: WorkflowEmitter, site: EmitSite, request: dict[str, Any]) -> TaskPolicy:
    """The task definition's retries and timeouts when one governs the task (registered or inline);
    the attempt also ends when Conductor's connect + read timeouts would have ended it."""
    task = site.task
    if task.taskDefinition is not None or task.name in emitter.task_defs:
        governing = governing_task_def(task.name, task, emitter.task_defs, site.location)
        task_def, location = governing.task_def, governing.location
        sink = emitter.policy_findings(governing.location)
    else:
        task_def = NO_DEFINITION
        if task.retryCount is not None:
            task_def = task_def.model_copy(update={"retryCount": task.retryCount})
        sink, location = emitter.policy_findings(None), site.location
    policy = conductor_policy(task_def, emitter.options, sink, location, heartbeats=False)
    milliseconds = 0
    for key, default in (
        ("connectionTimeOut", CONDUCTOR_CONNECT_TIMEOUT_MS),
        ("readTimeOut", CONDUCTOR_READ_TIMEOUT_MS),
    ):
        value = request.get(key)
        milliseconds += (
            value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
        )
    http_seconds = max(1, math.ceil(milliseconds / 1000))
    timeout = policy.fields.get("TimeoutSeconds")
    policy.fields["TimeoutSeconds"] = http_seconds if timeout is None else min(timeout, http_seconds)
    return policy


def _response_states(emitter: WorkflowEmitter, ref: str, states: dict[str, Any], after: str | None) -> str:
    """Conductor's `response` from the HTTP Task's answer; an answer without a body gives body null."""
    raw = f"$.tasks.{ref}.http"
    shaped: dict[str, str] = {}
    for with_body in (True, False):
        response: dict[str, Any] = {
            "headers.$": f"{raw}.Headers",
            "reasonPhrase.$": f"{raw}.StatusText",
            "statusCode.$": f"{raw}.StatusCode",
        }
        # null copied from the always-null $.workflow.missing (a written null some serialisers drop)
        response |= {"body.$": f"{raw}.ResponseBody" if with_body else "$.workflow.missing"}
        name = emitter.names.allocate(f"{ref}: response" + ("" if with_body else " without body"))
        states[name] = link(
            {
                "Type": "Pass",
                "Comment": "Conductor's HTTP output: response {body, headers, statusCode, reasonPhrase}",
                "Parameters": {"output": {"response": response}},
                "ResultPath": f"$.tasks.{ref}",
            },
            after,
        )
        shaped[str(with_body)] = name
    choice = emitter.names.allocate(f"{ref}: has a body?")
    states[choice] = {
        "Type": "Choice",
        "Choices": [{"Variable": f"{raw}.ResponseBody", "IsPresent": True, "Next": shaped["True"]}],
        "Default": shaped["False"],
    }
    return choice
