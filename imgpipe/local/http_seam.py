"""Step Functions' HTTP Task (`arn:aws:states:::http:invoke`) in moto's engine, under the SSRF rules.

moto 5.2's ASL parser knows no `http` service (its task factory raises "Unknown service 'http'"), so
a translated Conductor HTTP task could not even be created locally. This seam gives the factory one
more service: a Task state that sends the request of its Parameters (`ApiEndpoint`, `Method`,
`Headers`, `QueryParameters`, `RequestBody`) with `lambdas.adapters.fetch.send`, the workers' SSRF-safe
https client (public addresses only, port 443, the checked address pinned, the body capped), and answers
as the HTTP Task does (https://docs.aws.amazon.com/step-functions/latest/dg/call-https-apis.html):
`{StatusCode, StatusText, Headers, ResponseBody}`, the body parsed when the response is JSON, a
status outside 2xx failing the state with `States.Http.StatusCode.<code>` and the body as cause.
A refused or unreachable endpoint fails it with `States.Http.Socket`, the reason (naming the field)
as cause. Locally the EventBridge connection is not resolved: no authentication is added, so an
endpoint that needs one answers 401/403 here (on AWS the connection's credentials are sent).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock
from urllib.parse import urlencode, urlsplit, urlunsplit

from imgpipe.local.lambda_seam import DEFAULT_REGION, MotoInternalsChanged, moto_attribute
from imgpipe.worker import MAX_OUTPUT_CHARS
from lambdas.adapters import fetch
from lambdas.core.errors import ImageTooLargeError, WorkerError
from statemachines.translator.http import connection_name, connection_placeholder

TASK_FACTORY = "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_factory"
SERVICE_MODULE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service"
FAILURE_MODULE = "moto.stepfunctions.parser.asl.component.common.error_name.failure_event"
# moto's CustomErrorName refuses names starting "States.": the HTTP Task's errors are plain ErrorNames
ERROR_NAME_MODULE = "moto.stepfunctions.parser.asl.component.common.error_name.error_name"
API_MODULE = "moto.stepfunctions.parser.api"
EVENT_DETAIL_MODULE = "moto.stepfunctions.parser.asl.eval.event.event_detail"
PARAMETERS = frozenset(
    {"ApiEndpoint", "Method", "Authentication", "Headers", "QueryParameters", "RequestBody", "Transform"}
)
SOCKET_ERROR = "States.Http.Socket"
DATA_LIMIT_ERROR = "States.DataLimitExceeded"
# a state's result is at most 256 KiB, as every Step Functions payload (imgpipe.worker's limit)
HTTP_TASK_POLICY = fetch.FetchPolicy(max_bytes=MAX_OUTPUT_CHARS)


class HttpStatusFailure(Exception):
    """A response outside 2xx: the HTTP Task fails with its status code."""

    def __init__(self, status: int, cause: str) -> None:
        super().__init__(cause)
        self.status = status
        self.cause = cause


# What the seam builds its Task state from: (module, name) by role
MOTO_NAMES = {
    "service": (SERVICE_MODULE, "StateTaskService"),
    "failure_event": (FAILURE_MODULE, "FailureEvent"),
    "error_name": (ERROR_NAME_MODULE, "ErrorName"),
    "history": (API_MODULE, "HistoryEventType"),
    "failed_details": (API_MODULE, "TaskFailedEventDetails"),
    "event_details": (EVENT_DETAIL_MODULE, "EventDetails"),
}


def verify_moto_http_internals() -> None:
    """Check the moto names this seam builds on are where it expects them."""
    if not callable(moto_attribute(TASK_FACTORY, "state_task_service_for")):
        raise MotoInternalsChanged(f"moto's {TASK_FACTORY}.state_task_service_for is not callable")
    found = {role: moto_attribute(module, name) for role, (module, name) in MOTO_NAMES.items()}
    for method in ("_eval_service_task", "_get_supported_parameters", "_from_error", "_get_sfn_resource"):
        if not callable(getattr(found["service"], method, None)):
            raise MotoInternalsChanged(f"moto's {SERVICE_MODULE}.StateTaskService.{method} moved")


def connection_arns(connections: Iterable[str], prefix: str, account: str) -> dict[str, str]:
    """`${ConnectionArn_<name>}` values: ARNs of the shape AWS gives (the connection is not resolved)."""
    return {
        connection_placeholder(name): (
            f"arn:aws:events:{DEFAULT_REGION}:{account}:connection/{connection_name(prefix, name)}/local"
        )
        for name in sorted(connections)
    }


def endpoint_url(endpoint: str, query: dict[str, Any] | None) -> str:
    """ApiEndpoint with QueryParameters appended (a list value repeats its key)."""
    if not query:
        return endpoint
    parts = urlsplit(endpoint)
    pairs = [(k, v) for k, value in query.items() for v in (value if isinstance(value, list) else [value])]
    extra = urlencode([(k, v if isinstance(v, str) else json.dumps(v)) for k, v in pairs if v is not None])
    joined = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))


def request_body(body: Any, headers: dict[str, str]) -> bytes | None:
    """RequestBody as sent: a string as it is, anything else as JSON."""
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode()
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(body, separators=(",", ":")).encode()


def task_result(answer: fetch.Answer) -> dict[str, Any]:
    """The HTTP Task's result: ResponseBody parsed from JSON when the response says it is JSON."""
    text = answer.body.decode("utf-8", errors="replace")
    media = next((v[0] for k, v in answer.headers.items() if k.lower() == "content-type" and v), "")
    body: Any = text
    if media.split(";", 1)[0].strip().lower() == "application/json" and text:
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    result: dict[str, Any] = {
        "StatusCode": answer.status,
        "StatusText": answer.reason,
        "Headers": answer.headers,
    }
    if text:
        result["ResponseBody"] = body
    return result


def call(parameters: dict[str, Any], policy: fetch.FetchPolicy) -> dict[str, Any]:
    """Send the request of one HTTP Task's Parameters; raises HttpStatusFailure outside 2xx."""
    endpoint = parameters.get("ApiEndpoint")
    method = parameters.get("Method")
    if not isinstance(endpoint, str) or not isinstance(method, str):
        raise fetch.SourceRefusedError("ApiEndpoint", "ApiEndpoint and Method must be strings")
    headers = {
        str(k): v if isinstance(v, str) else json.dumps(v)
        for k, v in (parameters.get("Headers") or {}).items()
    }
    body = request_body(parameters.get("RequestBody"), headers)
    url = endpoint_url(endpoint, parameters.get("QueryParameters"))
    answer = fetch.send(method.upper(), url, policy, headers=headers, body=body, field="ApiEndpoint")
    result = task_result(answer)
    if not 200 <= answer.status < 300:
        raise HttpStatusFailure(answer.status, answer.body.decode("utf-8", errors="replace"))
    return result


def _http_task_class(policy: fetch.FetchPolicy) -> type:
    moto = {role: moto_attribute(module, name) for role, (module, name) in MOTO_NAMES.items()}

    base: Any = moto["service"]

    class LocalHttpInvoke(base):
        def _get_supported_parameters(self) -> set[str]:
            return set(PARAMETERS)

        def _eval_service_task(
            self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
        ) -> None:
            env.stack.append(call(normalised_parameters, policy))

        def _from_error(self, env: Any, ex: Exception) -> Any:
            if isinstance(ex, HttpStatusFailure):
                error, cause = f"States.Http.StatusCode.{ex.status}", ex.cause
            elif isinstance(ex, ImageTooLargeError):
                # a result over the payload quota (concepts-error-handling: States.DataLimitExceeded)
                error, cause = DATA_LIMIT_ERROR, str(ex)
            elif isinstance(ex, WorkerError):
                error, cause = SOCKET_ERROR, str(ex)
            else:
                return super()._from_error(env=env, ex=ex)
            return moto["failure_event"](
                env=env,
                error_name=moto["error_name"](error_name=error),
                event_type=moto["history"].TaskFailed,
                event_details=moto["event_details"](
                    taskFailedEventDetails=moto["failed_details"](
                        error=error,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )

    return LocalHttpInvoke


@contextmanager
def install(policy: fetch.FetchPolicy = HTTP_TASK_POLICY) -> Iterator[None]:
    """Let moto's engine create and run `http:invoke` Task states while installed."""
    verify_moto_http_internals()
    original = moto_attribute(TASK_FACTORY, "state_task_service_for")
    http_task = _http_task_class(policy)

    def state_task_service_for(service_name: str) -> Any:
        return http_task() if service_name == "http" else original(service_name=service_name)

    with mock.patch(f"{TASK_FACTORY}.state_task_service_for", state_task_service_for):
        yield
