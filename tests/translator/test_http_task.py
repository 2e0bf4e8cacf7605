"""Conductor's HTTP task: translated to an HTTP Task, executed in moto against a real https server.

The server is a local `http.server` behind TLS with a certificate for api.example.com from a trustme
CA. "DNS" (socket.getaddrinfo) answers api.example.com with a public address, and the connection
to that checked address is routed to the local server: the SSRF checks, certificate verification
against the host name and the request itself are the real ones.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme

from imgpipe.local import http_seam
from lambdas.adapters import fetch
from statemachines.translator import TranslatorOptions
from tests.translator.harness import engine, task_defs, translate

HOST = "api.example.com"
PUBLIC_ADDRESS = "93.184.215.14"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Api:
    port: int
    ca_file: str
    requests: list[Seen] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    api: Api

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.api.requests.append(  # type: ignore[attr-defined]
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if self.path.startswith("/items/"):
            self._send(200, {"id": self.path.split("/")[2].split("?")[0], "tags": ["a", "b"]})
        elif self.path == "/echo":
            self._send(201, {"received": json.loads(body), "type": self.headers.get("Content-Type")})
        elif self.path == "/empty":
            self.send_response(204)
            self.end_headers()
        elif self.path == "/big":
            self._send(200, "x" * (http_seam.HTTP_TASK_POLICY.max_bytes + 1), "text/plain")
        elif self.path == "/busy":
            self._send(503, "try later", "text/plain")
        else:
            self._send(404, "no such item", "text/plain")

    do_GET = do_POST = do_PUT = _answer

    def _send(self, status: int, payload: Any, media: str = "application/json") -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("X-Served-By", "test-api")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    authority = trustme.CA()
    certificate = authority.issue_cert(HOST)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    state = Api(server.server_address[1], str(ca_file))
    server.api = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    real_getaddrinfo, real_open_pool = socket.getaddrinfo, fetch._open_pool

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, port))]
        if host == "internal.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def routed(address: str, target: fetch.Target, policy: fetch.FetchPolicy) -> Any:
        assert address == PUBLIC_ADDRESS  # only the checked address is ever connected to
        return real_open_pool("127.0.0.1", replace(target, port=state.port), policy)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(fetch, "_open_pool", routed)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def workflow(request: dict[str, Any], **task: Any) -> dict[str, Any]:
    return {
        "name": "call_api",
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {
                "name": "call",
                "taskReferenceName": "call_ref",
                "type": "HTTP",
                "inputParameters": {"http_request": request},
                **task,
            }
        ],
        "outputParameters": {"response": "${call_ref.output.response}"},
    }


def run(api: Api, definition: dict[str, Any], payload: Any, **kwargs: Any) -> Any:
    asl, diagnostics = translate(definition, kwargs.pop("defs", {}), options=kwargs.pop("options", None))
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    policy = replace(http_seam.HTTP_TASK_POLICY, ca_bundle=api.ca_file)
    with engine(http_policy=policy) as moto:
        moto.deploy("call_api", json.dumps(asl))
        return moto.run("call_api", payload)


def test_a_get_returns_conductors_response_shape(api: Api) -> None:
    definition = workflow(
        {
            "uri": f"https://{HOST}/items/${{workflow.input.id}}",
            "method": "GET",
            "headers": {"X-Trace": "${workflow.input.trace}"},
        }
    )
    execution = run(api, definition, {"id": "42", "trace": "t-1"})
    assert execution.status == "SUCCEEDED", execution.cause
    response = execution.output["response"]
    assert response["statusCode"] == 200
    assert response["reasonPhrase"] == "OK"
    assert response["body"] == {"id": "42", "tags": ["a", "b"]}
    assert response["headers"]["X-Served-By"] == ["test-api"]
    (seen,) = api.requests
    assert (seen.method, seen.path) == ("GET", "/items/42")
    # Conductor's HttpTask always sends Content-Type and Accept (application/json by default)
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["x-trace"] == "t-1"
    assert seen.headers["host"] == HOST


def test_a_post_sends_the_body_as_json_and_the_given_content_type(api: Api) -> None:
    definition = workflow(
        {
            "uri": f"https://{HOST}/echo",
            "method": "POST",
            "contentType": "application/json; charset=utf-8",
            "body": {"name": "${workflow.input.name}", "count": 3},
        }
    )
    execution = run(api, definition, {"name": "photo.png"})
    assert execution.status == "SUCCEEDED", execution.cause
    response = execution.output["response"]
    assert response["statusCode"] == 201
    assert response["body"]["received"] == {"name": "photo.png", "count": 3}
    assert response["body"]["type"] == "application/json; charset=utf-8"


def test_a_response_without_body_has_body_null(api: Api) -> None:
    execution = run(api, workflow({"uri": f"https://{HOST}/empty", "method": "PUT"}), {})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["response"]["statusCode"] == 204
    assert execution.output["response"]["body"] is None


def test_a_status_outside_2xx_fails_the_task_with_the_status_code(api: Api) -> None:
    execution = run(api, workflow({"uri": f"https://{HOST}/nothing", "method": "GET"}), {})
    assert execution.status == "FAILED"
    assert execution.error == "States.Http.StatusCode.404"
    assert execution.cause == "no such item"


def test_a_response_over_the_payload_quota_fails_with_data_limit_exceeded(api: Api) -> None:
    execution = run(api, workflow({"uri": f"https://{HOST}/big", "method": "GET"}), {})
    assert execution.status == "FAILED"
    assert execution.error == "States.DataLimitExceeded"


def test_an_optional_http_task_that_fails_is_completed_with_errors(api: Api) -> None:
    definition = workflow({"uri": f"https://{HOST}/nothing", "method": "GET"}, optional=True)
    definition["outputParameters"] = {"response": "${call_ref.output}"}
    execution = run(api, definition, {})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"response": {}}  # COMPLETED_WITH_ERRORS: Conductor's empty output
    failed = [e for e in execution.events if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "States.Http.StatusCode.404"


def test_the_task_definition_retries_a_failed_call(api: Api) -> None:
    definition = workflow({"uri": f"https://{HOST}/busy", "method": "GET"})
    execution = run(api, definition, {}, defs=task_defs("call", retryCount=2, retryDelaySeconds=1))
    assert execution.status == "FAILED"
    assert execution.error == "States.Http.StatusCode.503"
    assert len(api.requests) == 3  # the call and its two retries


def test_without_a_task_definition_a_failed_call_is_not_retried(api: Api) -> None:
    execution = run(api, workflow({"uri": f"https://{HOST}/busy", "method": "GET"}), {})
    assert execution.error == "States.Http.StatusCode.503"
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://127.0.0.1/items/1", "loopback"),
        ("https://internal.example.com/items/1", "private"),
        (f"https://{HOST}:8443/items/1", "port"),
    ],
)
def test_the_ssrf_rules_refuse_an_endpoint_before_any_request(api: Api, uri: str, reason: str) -> None:
    execution = run(api, workflow({"uri": "${workflow.input.uri}", "method": "GET"}), {"uri": uri})
    assert execution.status == "FAILED"
    assert execution.error == "States.Http.Socket"
    assert reason in (execution.cause or "")
    assert "ApiEndpoint" in (execution.cause or "")
    assert api.requests == []


def test_a_certificate_for_another_host_is_refused(api: Api) -> None:
    """The trust store is the system's by default: the test CA's certificate is not trusted."""
    asl, _ = translate(workflow({"uri": f"https://{HOST}/items/1", "method": "GET"}), {})
    with engine() as moto:
        moto.deploy("call_api", json.dumps(asl))
        execution = moto.run("call_api", {})
    assert execution.error == "States.Http.Socket"
    assert "TLS verification" in (execution.cause or "")


# --- translation, refused and warned -------------------------------------------------------------
def test_the_state_calls_through_the_default_connection_with_conductors_timeouts() -> None:
    asl, diagnostics = translate(workflow({"uri": f"https://{HOST}/a", "method": "get"}), {})
    state = asl["States"]["call_ref"]
    assert state["Resource"] == "arn:aws:states:::http:invoke"
    assert state["Parameters"]["Method"] == "GET"
    assert state["Parameters"]["Authentication"] == {"ConnectionArn": "${ConnectionArn_default}"}
    # Conductor's server defaults, 100 ms connect + 150 ms read, rounded up to a second
    assert state["TimeoutSeconds"] == 1
    assert not [d for d in diagnostics if d.severity == "error"]


def test_the_request_timeouts_bound_the_attempt() -> None:
    request = {"uri": f"https://{HOST}/a", "method": "GET", "connectionTimeOut": 2000, "readTimeOut": 7500}
    asl, _ = translate(workflow(request), {})
    assert asl["States"]["call_ref"]["TimeoutSeconds"] == 10


@pytest.mark.parametrize(
    ("request_fields", "location", "message"),
    [
        ({"uri": "http://api.example.com/a", "method": "GET"}, "http_request.uri", "https endpoints only"),
        ({"method": "GET"}, "http_request.uri", "needs a uri"),
        ({"uri": f"https://{HOST}/a"}, "http_request.method", "needs a method"),
        ({"uri": f"https://{HOST}/a", "method": "TRACE"}, "http_request.method", "not one of"),
        ({"uri": f"https://{HOST}/a", "method": "GET", "vipAddress": "svc"}, "vipAddress", "discovery"),
        (
            {"uri": f"https://{HOST}/a", "method": "GET", "headers": {"Cache-Control": "no-cache"}},
            "http_request.headers.Cache-Control",
            "cannot send the Cache-Control header",
        ),
        (
            {"uri": f"https://{HOST}/a", "method": "GET", "headers": {"X-Amz-Date": "x"}},
            "http_request.headers.X-Amz-Date",
            "States.Runtime",
        ),
        (
            {"uri": f"https://{HOST}/a", "method": "GET", "headers": {"Authorization": "Bearer x"}},
            "http_request.headers.Authorization",
            "http_connections['call_api.call_ref']",
        ),
    ],
)
def test_requests_that_cannot_be_translated_are_refused_at_their_field(
    request_fields: dict[str, Any], location: str, message: str
) -> None:
    _, diagnostics = translate(workflow(request_fields), {})
    errors = [d for d in diagnostics if d.severity == "error"]
    assert errors, diagnostics
    assert errors[0].location.endswith(location), errors
    assert message in errors[0].message
    assert errors[0].location.startswith("tasks[0].inputParameters.http_request")


def test_a_credential_header_is_left_to_the_named_connection() -> None:
    request = {
        "uri": f"https://{HOST}/a",
        "method": "GET",
        "headers": {"Authorization": "Bearer x", "X-A": "1"},
    }
    options = TranslatorOptions(http_connections={"call_api.call_ref": "partner_api"})
    asl, diagnostics = translate(workflow(request), {}, options=options)
    parameters = asl["States"]["call_ref"]["Parameters"]
    assert parameters["Authentication"] == {"ConnectionArn": "${ConnectionArn_partner_api}"}
    assert "Authorization" not in parameters["Headers"]
    assert "Bearer x" not in json.dumps(asl)  # the secret never reaches the definition
    assert parameters["Headers"]["X-A"] == "1"
    assert any("left out" in d.message for d in diagnostics if d.severity == "warning")
