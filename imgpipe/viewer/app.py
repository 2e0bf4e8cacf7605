"""The execution viewer: server-rendered pages (Jinja2, autoescaped) over `ViewerBackend`.

Pages: `/` (workflows and executions, a form to start one) and `/execution/<name-or-arn>` (the graph
coloured by status, each state's runs, input and output, the renditions and the contact sheet).
Everything else lives under `/_viewer/` (a name no S3 bucket can have): the JSON the page polls,
renditions, static files, and the two writes (start, stop), which need the page's token.

Defences, because object keys, inputs and error causes are user input and the server holds the
user's credentials: autoescaping everywhere and the script building the details panel with
textContent only; a Content-Security-Policy with no inline script or style; a Host check (a
DNS-rebinding page cannot read the viewer); a per-process token and an Origin check on every write
(another site cannot start or stop executions through the user's browser); renditions served only
as the images they decoded as, with nosniff and a sandbox policy.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError
from flask import Flask, Response, abort, redirect, render_template, request, send_file
from werkzeug.exceptions import HTTPException

from imgpipe.viewer.backend import ViewerBackend, ViewerError

PREFIX = "/_viewer"
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
LOCAL_POLL_MS, REMOTE_POLL_MS = 700, 2000  # GetExecutionHistory is throttled on AWS
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # the form's body; the backend also holds maxSourceBytes
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
# Renditions are shown as what Pillow decoded them as; anything else is only ever a download.
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


def execution_href(arn: str) -> str:
    return f"/execution/{quote(arn, safe=':')}"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def stamp(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ViewerApp:
    """The Flask app and what it is bound to (the backend arrives once the port is known)."""

    def __init__(self, backend: ViewerBackend | None = None) -> None:
        self.backend = backend
        self.allowed_hosts: set[str] = set()
        self.token = secrets.token_urlsafe(32)
        self.flask = self._create()

    def attach(self, backend: ViewerBackend, host: str, port: int) -> None:
        """Serve `backend`'s data, to requests naming this server's host and port only."""
        self.backend = backend
        self.allowed_hosts = {f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"}

    def attach_local(self, engine: Any, host: str, port: int) -> None:
        """`imgpipe serve`: read the local engine through its own HTTP endpoint, as the CLI does."""
        from imgpipe.viewer.backend import Stack

        deployment = engine.deployment
        stack = Stack(
            region=engine.region, input_bucket=deployment.input_bucket, output_bucket=deployment.output_bucket
        )
        self.attach(ViewerBackend.for_endpoint(f"http://{host}:{port}", stack, engine.config), host, port)

    def mount(self, fallback: Any) -> ViewerDispatcher:
        """A WSGI app answering the viewer's paths and passing every other request to `fallback`."""
        return ViewerDispatcher(self, fallback)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()

    def _backend(self) -> ViewerBackend:
        if self.backend is None:
            abort(503)
        return self.backend

    # --- the app ----------------------------------------------------------------------------------
    def _create(self) -> Flask:
        here = Path(__file__).resolve().parent
        app = Flask(
            __name__,
            static_folder=str(here / "static"),
            static_url_path=f"{PREFIX}/static",
            template_folder=str(here / "templates"),
        )
        app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
        app.jinja_env.autoescape = True  # every template, whatever its extension
        app.jinja_env.globals.update(
            execution_href=execution_href,
            pretty=pretty,
            duration=duration,
            stamp=stamp,
            prefix=PREFIX,
            statuses=STATUSES,
        )
        app.before_request(self._check_host)
        app.after_request(_security_headers)
        app.register_error_handler(ViewerError, self._viewer_error)
        app.register_error_handler(HTTPException, self._http_error)
        app.register_error_handler(ClientError, self._aws_error)
        app.add_url_rule("/", "index", self.index)
        app.add_url_rule("/execution/<path:execution>", "execution", self.execution_page)
        app.add_url_rule(f"{PREFIX}/api/execution/<path:execution>/node/<node_id>", "node", self.node_json)
        app.add_url_rule(f"{PREFIX}/api/execution/<path:execution>", "status", self.status_json)
        app.add_url_rule(f"{PREFIX}/rendition/<int:index>/<path:execution>", "rendition", self.rendition)
        app.add_url_rule(f"{PREFIX}/contact-sheet/<path:execution>", "contact_sheet", self.contact_sheet)
        app.add_url_rule(f"{PREFIX}/start", "start", self.start, methods=["POST"])
        app.add_url_rule(f"{PREFIX}/stop/<path:execution>", "stop", self.stop, methods=["POST"])
        return app

    def _check_host(self) -> None:
        if self.allowed_hosts and request.host not in self.allowed_hosts:
            abort(421)  # Misdirected Request: a page on another name (DNS rebinding) gets nothing

    def _check_write(self) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and origin.removeprefix("http://") not in self.allowed_hosts:
            abort(403, "cross-origin write refused")
        sent = request.form.get("token", "")
        if not hmac.compare_digest(sent.encode(), self.token.encode()):
            abort(403, "the page's token is missing or stale: reload the page")

    def _common(self) -> dict[str, Any]:
        backend = self._backend()
        return {"stack": backend.stack, "token": self.token}

    # --- pages ------------------------------------------------------------------------------------
    def index(self, error: ViewerError | None = None, status_code: int = 200) -> Any:
        backend = self._backend()
        workflow = request.args.get("workflow") or None
        status = request.args.get("status") or None
        if status is not None and status not in STATUSES:
            error, status_code, status = (
                ViewerError(400, f"unknown status {status[:40]!r}", "status"),
                400,
                None,
            )
        workflows = backend.workflows()
        if workflow is not None and workflow not in {w.name for w in workflows}:
            error, status_code, workflow = (
                ViewerError(400, f"unknown workflow {workflow[:100]!r}", "workflow"),
                400,
                None,
            )
        executions, unlisted = backend.executions(workflow, status)
        body = render_template(
            "index.html",
            workflows=workflows,
            executions=executions,
            unlisted=unlisted,
            chosen_workflow=workflow,
            chosen_status=status,
            error=error,
            form=request.form if request.method == "POST" else {},
            examples={w.name: pretty(w.example_input) for w in workflows},
            default_workflow=next(
                (w.name for w in workflows if w.source), workflows[0].name if workflows else ""
            ),
            **self._common(),
        )
        return Response(body, status=status_code, mimetype="text/html")

    def execution_page(self, execution: str) -> Any:
        backend = self._backend()
        arn = backend.resolve(execution)
        view = backend.execution(arn)
        poll = REMOTE_POLL_MS if backend.stack.state_machine_arns is not None else LOCAL_POLL_MS
        return render_template(
            "execution.html",
            view=view,
            arn=arn,
            nodes=view.nodes(),
            failing_node=view.failing_node(),
            poll_ms=poll,
            **self._common(),
        )

    # --- JSON for the page's script ---------------------------------------------------------------
    def status_json(self, execution: str) -> Any:
        backend = self._backend()
        view = backend.execution(backend.resolve(execution))
        return {
            "status": view.status,
            "ended": view.ended,
            "nodes": view.nodes(),
            "failingNode": view.failing_node(),
        }

    def node_json(self, execution: str, node_id: str) -> Any:
        backend = self._backend()
        view = backend.execution(backend.resolve(execution))
        nodes = {node.id: node for node in view.graph.graph.all_nodes()}
        node = nodes.get(node_id)
        if node is None:
            raise ViewerError(404, f"no node {node_id[:40]!r} in this graph", "node")
        members = set(node.states)
        return {
            "id": node.id,
            "label": node.key,
            "kind": node.kind,
            "states": node.states,
            "runs": [run.as_json() for run in view.runs if run.state in members],
        }

    # --- renditions -------------------------------------------------------------------------------
    def rendition(self, index: int, execution: str) -> Any:
        backend = self._backend()
        view = backend.execution(backend.resolve(execution))
        if not 0 <= index < len(view.renditions):
            raise ViewerError(404, f"the execution has no rendition {index}", "rendition")
        rendition = view.renditions[index]
        download = request.args.get("download") == "1"
        mimetype = IMAGE_TYPES.get(rendition.format or "")
        response = send_file(
            rendition.path,
            mimetype=mimetype or "application/octet-stream",
            as_attachment=download or mimetype is None,
            download_name=rendition.key.rsplit("/", 1)[-1] or "rendition",
        )
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    def contact_sheet(self, execution: str) -> Any:
        backend = self._backend()
        view = backend.execution(backend.resolve(execution))
        if view.contact_sheet is None:
            raise ViewerError(404, "the execution published no renditions", "contact sheet")
        response = send_file(view.contact_sheet, mimetype="image/png")
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    # --- writes -----------------------------------------------------------------------------------
    def start(self) -> Any:
        self._check_write()
        backend = self._backend()
        upload = request.files.get("image")
        image = None
        if upload is not None and upload.filename:
            image = (upload.filename, upload.read(backend.config.maxSourceBytes + 1))
        try:
            arn = backend.start(request.form.get("workflow", ""), request.form.get("input", ""), image)
        except ViewerError as error:
            return self.index(error, error.status)
        return redirect(execution_href(arn), code=303)

    def stop(self, execution: str) -> Any:
        self._check_write()
        backend = self._backend()
        arn = backend.resolve(execution)
        backend.stop(arn)
        return redirect(execution_href(arn), code=303)

    # --- errors -----------------------------------------------------------------------------------
    def _viewer_error(self, error: ViewerError) -> Any:
        return self._error_page(error.status, error.message, error.field)

    def _aws_error(self, error: ClientError) -> Any:
        """An API call the endpoint refused (no permission, an Express execution on AWS, throttling)."""
        details = error.response.get("Error", {})
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 502)
        message = f"{error.operation_name}: {details.get('Code', 'Error')}: {details.get('Message', '')}"
        return self._error_page(status if 400 <= status < 600 else 502, message, None)

    def _http_error(self, error: HTTPException) -> Any:
        return self._error_page(error.code or 500, error.description or error.name, None)

    def _error_page(self, status: int, message: str, field: str | None) -> Any:
        if request.path.startswith(f"{PREFIX}/api/"):
            return {"status": status, "message": message, "field": field}, status
        body = render_template("error.html", status=status, message=message, field=field)
        return Response(body, status=status, mimetype="text/html")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = (
        "same-origin"  # "no-referrer" would make the Origin of a form post "null"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if not request.path.startswith(f"{PREFIX}/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def is_viewer_request(environ: dict[str, Any]) -> bool:
    """The viewer's paths, unsigned (a signed or presigned request is always an AWS API call)."""
    from imgpipe.local.conductor_api import is_aws_request

    path = str(environ.get("PATH_INFO", ""))
    method = str(environ.get("REQUEST_METHOD", "GET"))
    ours = (path == "/" and method in ("GET", "HEAD")) or path.startswith(("/execution/", f"{PREFIX}/"))
    return ours and not is_aws_request(environ)


class ViewerDispatcher:
    """WSGI: the viewer's requests to the viewer, everything else to the app behind it."""

    def __init__(self, viewer: ViewerApp, fallback: Any) -> None:
        self.viewer = viewer
        self.fallback = fallback

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if is_viewer_request(environ):
            return self.viewer.flask(environ, start_response)
        return self.fallback(environ, start_response)
