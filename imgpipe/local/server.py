"""The local engine behind an HTTP endpoint (moto server mode), for the AWS CLI and boto3.

``ThreadedMotoServer`` serves the same in-process moto backends that ``LocalAws`` populates, in the
same process, so every seam applies to requests that arrive over HTTP: a PutObject into the input
bucket triggers the workflow, StartExecution runs the translated ASL with the real handlers. Unsigned
requests under ``/api/`` are Conductor's REST API (``conductor_api``), and ``/`` and ``/execution/<id>``
the execution viewer (``imgpipe.viewer``), on the same port.

Usage::

    with LocalServer(port=0) as server:      # 0 = any free port
        print(server.endpoint_url)           # http://127.0.0.1:<port>
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from imgpipe.config import DeploymentConfig
from imgpipe.local import conductor_api
from imgpipe.local.engine import Handler, LocalAws, default_handler
from imgpipe.viewer.app import ViewerApp

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServerInfo:
    """What a client needs: the endpoint and the names the stack outputs would give."""

    endpoint_url: str
    region: str
    input_bucket: str
    output_bucket: str
    input_prefix: str
    state_machines: dict[str, str]  # workflow name -> state machine ARN
    conductor_api_url: str = ""  # Conductor's REST API on the same port (imgpipe/local/conductor_api.py)

    def as_json(self) -> dict[str, Any]:
        return {
            "endpointUrl": self.endpoint_url,
            "region": self.region,
            "inputBucket": self.input_bucket,
            "outputBucket": self.output_bucket,
            "inputPrefix": self.input_prefix,
            "stateMachines": self.state_machines,
            "conductorApiUrl": self.conductor_api_url,
            "stateInMemory": True,  # a restart starts empty (docs/local.md)
        }


class LocalServer:
    """``LocalAws`` plus a moto HTTP server bound to loopback (a context manager)."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = LOOPBACK,
        config: DeploymentConfig | None = None,
        time_scale: float = 1.0,
        files_root: Path | None = None,
        handler_for: Callable[[str], Handler] = default_handler,
    ) -> None:
        self.engine = LocalAws(config, time_scale=time_scale, files_root=files_root, handler_for=handler_for)
        self._host = host
        self._port = port
        self._server: _ThreadedServer | None = None
        self.info: ServerInfo | None = None
        self.viewer = ViewerApp()

    def __enter__(self) -> LocalServer:
        _check_port_free(self._host, self._port)
        self.engine.__enter__()
        try:
            aws = DomainDispatcherApplication(create_backend_app)
            conductor = conductor_api.ConductorDispatcher(conductor_api.create_app(self.engine), aws)
            app = self.viewer.mount(conductor)
            server = _ThreadedServer(self._host, self._port, app)
        except BaseException:
            self.engine.__exit__(None, None, None)
            raise
        self._server = server
        host, port = server.get_host_and_port()
        deployment = self.engine.deployment
        self.info = ServerInfo(
            endpoint_url=f"http://{host}:{port}",
            region=self.engine.region,
            input_bucket=deployment.input_bucket,
            output_bucket=deployment.output_bucket,
            input_prefix=self.engine.config.inputPrefix,
            state_machines=dict(deployment.state_machine_arns),
            conductor_api_url=f"http://{host}:{port}/api",
        )
        self.viewer.attach_local(self.engine, host, port)
        return self

    @property
    def endpoint_url(self) -> str:
        if self.info is None:
            raise RuntimeError("LocalServer is not running: use it as a context manager")
        return self.info.endpoint_url

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._server is not None:
                self._server.stop()
                self._server = None
            self.viewer.close()
        finally:
            self.engine.__exit__(*exc_info)


class _ThreadedServer:
    """moto's AWS app and the Conductor API behind one threaded Werkzeug server, as moto's own
    ``ThreadedMotoServer`` serves the AWS app alone (same request handler)."""

    def __init__(self, host: str, port: int, app: Any) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


def _check_port_free(host: str, port: int) -> None:
    """ThreadedMotoServer binds in its thread and would wait forever if the bind failed: check first."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(f"cannot listen on {host}:{port} ({error.strerror}): use another --port") from error
