"""The URL-fetch SSRF matrix through the single-image workflow, not only the fetch adapter.

Inside the resize worker's processes (installed by tests/support/worker_faults.py's `setup`), DNS is
answered from a table (socket.getaddrinfo patched) and "the internet" is a fake connection pool
standing in for the remote server (fetch._open_pool patched), which records every connection in a
file this test reads: the worker's scheme, host, address and redirect checks all run for real, and
no connection leaves the machine. Every hostile URL ends FAILED, typed and non-retryable, after
exactly one attempt, before any connection is opened; a public URL renders, proving the matrix is
not refusing everything.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imgpipe.config import RESIZE_TASK
from imgpipe.local.engine import LocalAws
from tests.reliability.checks import decode
from tests.reliability.corpus import BY_NAME
from tests.reliability.pipeline import (
    SINGLE_IMAGE_WORKFLOW,
    fault_plan,
    key_of,
    local_pipeline,
    objects,
    run,
    single_image_input,
)
from tests.support.worker_faults import FaultPlan

PUBLIC = "93.184.216.34"
DNS: dict[str, list[str]] = {
    "images.example.com": [PUBLIC],
    "localhost": ["127.0.0.1"],
    "internal.example.com": ["10.0.0.7"],
    "cgnat.example.com": ["100.64.1.1"],
    "rebind.example.com": [PUBLIC, "169.254.169.254"],
    "metadata.google.internal": ["169.254.169.254"],
    "v6-loopback.example.com": ["::1"],
    "nat64.example.com": ["64:ff9b::a9fe:a9fe"],
}
IMAGE = BY_NAME["exif-1.jpg"].data
RECIPE = {"outputFormat": "png", "outputWidth": 30, "outputHeight": 30}


def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        addresses: list[str] | None = [str(ipaddress.ip_address(name))]  # a literal resolves to itself
    except ValueError:
        addresses = DNS.get(name.lower().rstrip("."))
    if addresses is None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    infos = []
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr: tuple[Any, ...] = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
        infos.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
    return infos


@dataclass
class FakeResponse:
    status: int
    headers: dict[str, str]
    body: bytes = b""

    def stream(self, amount: int, decode_content: bool = True) -> Iterator[bytes]:
        for start in range(0, len(self.body), amount):
            yield self.body[start : start + amount]

    def release_conn(self) -> None:
        pass


CONNECTIONS = "connections.jsonl"


@dataclass
class FakeInternet:
    """What the remote servers answer, by path; every connection a worker opened, from its log."""

    log: Path

    @property
    def connections(self) -> list[tuple[str, str, str]]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [tuple(json.loads(line)) for line in lines]  # type: ignore[misc]

    def open_pool(self, address: str, target: Any, policy: Any) -> Any:
        log = self.log

        class Pool:
            def urlopen(self, method: str, path: str, **_: Any) -> FakeResponse:
                with log.open("a") as stream:
                    stream.write(json.dumps([address, target.host, path]) + "\n")
                return FakeInternet.answer(path)

            def close(self) -> None:
                pass

        return Pool()

    @staticmethod
    def answer(path: str) -> FakeResponse:
        if path == "/photo.jpg":
            return FakeResponse(200, {"Content-Type": "image/jpeg"}, IMAGE)
        if path == "/to-metadata":
            return FakeResponse(302, {"Location": "https://169.254.169.254/latest/meta-data/iam/"})
        if path == "/to-http":
            return FakeResponse(301, {"Location": "http://images.example.com/photo.jpg"})
        if path == "/to-internal":
            return FakeResponse(307, {"Location": "https://internal.example.com/photo.jpg"})
        if path == "/huge":
            return FakeResponse(200, {"Content-Length": str(10 * 2**30)}, b"")
        return FakeResponse(404, {})


def install_fake_internet(plan: FaultPlan) -> None:
    """In a worker process (FaultPlan.setup): the DNS table and the fake servers."""
    from lambdas.adapters import fetch

    socket.getaddrinfo = fake_getaddrinfo  # type: ignore[assignment]
    fetch._open_pool = FakeInternet(Path(plan.state_dir) / CONNECTIONS).open_pool  # type: ignore[assignment]


def _resize_on_the_fake_internet(state_dir: Path) -> dict[str, FaultPlan]:
    return {RESIZE_TASK: fault_plan(RESIZE_TASK, state_dir, setup=f"{__name__}.install_fake_internet")}


@pytest.fixture(scope="module")
def internet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("internet")


@pytest.fixture
def internet(internet_dir: Path) -> FakeInternet:
    fake = FakeInternet(internet_dir / CONNECTIONS)
    fake.log.write_text("")  # each test counts its own connections
    return fake


@pytest.fixture(scope="module")
def aws(internet_dir: Path) -> Iterator[LocalAws]:
    with local_pipeline(faults=_resize_on_the_fake_internet(internet_dir)) as runtime:
        yield runtime


# (url, error name, words the message must contain, connections the worker may open)
REFUSED: list[tuple[str, str, str, int]] = [
    ("http://images.example.com/photo.jpg", "SourceRefusedError", "https", 0),
    ("ftp://images.example.com/photo.jpg", "SourceRefusedError", "scheme", 0),
    ("file:///etc/passwd", "SourceRefusedError", "scheme", 0),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "SourceRefusedError", "scheme", 0),
    ("https://169.254.169.254/latest/meta-data/", "SourceRefusedError", "link-local", 0),
    ("https://127.0.0.1/photo.jpg", "SourceRefusedError", "loopback", 0),
    ("https://localhost/photo.jpg", "SourceRefusedError", "loopback", 0),
    ("https://[::1]/photo.jpg", "SourceRefusedError", "loopback", 0),
    ("https://[::ffff:127.0.0.1]/photo.jpg", "SourceRefusedError", "127.0.0.1", 0),
    ("https://[fe80::1%25eth0]/photo.jpg", "SourceRefusedError", "zone", 0),
    ("https://2130706433/photo.jpg", "SourceRefusedError", "numeric", 0),
    ("https://0x7f.1/photo.jpg", "SourceRefusedError", "numeric", 0),
    ("https://0177.0.0.1/photo.jpg", "SourceRefusedError", "numeric", 0),
    ("https://10.0.0.7/photo.jpg", "SourceRefusedError", "private", 0),
    ("https://internal.example.com/photo.jpg", "SourceRefusedError", "private", 0),
    ("https://cgnat.example.com/photo.jpg", "SourceRefusedError", "CGNAT", 0),
    ("https://rebind.example.com/photo.jpg", "SourceRefusedError", "169.254.169.254", 0),
    ("https://metadata.google.internal/computeMetadata/v1/", "SourceRefusedError", "link-local", 0),
    ("https://v6-loopback.example.com/photo.jpg", "SourceRefusedError", "loopback", 0),
    ("https://nat64.example.com/photo.jpg", "SourceRefusedError", "169.254.169.254", 0),
    ("https://user:secret@images.example.com/photo.jpg", "SourceRefusedError", "credentials", 0),
    ("https://images.example.com@127.0.0.1/photo.jpg", "SourceRefusedError", "credentials", 0),
    ("https://images.example.com:8443/photo.jpg", "SourceRefusedError", "port", 0),
    ("https://images.example.com/to-metadata", "SourceRefusedError", "link-local", 1),
    ("https://images.example.com/to-http", "SourceRefusedError", "https", 1),
    ("https://images.example.com/to-internal", "SourceRefusedError", "private", 1),
    ("https://images.example.com/huge", "ImageTooLargeError", "bytes", 1),
    ("https://images.example.com/missing.jpg", "SourceNotFoundError", "404", 1),
    ("https://no-such-host.example.com/photo.jpg", "SourceNotFoundError", "resolve", 0),
]


@pytest.mark.parametrize(("url", "error", "words", "connections"), REFUSED, ids=[case[0] for case in REFUSED])
def test_hostile_urls_fail_once_through_the_workflow(
    url: str, error: str, words: str, connections: int, aws: LocalAws, internet: FakeInternet
) -> None:
    before = set(objects(aws, aws.deployment.output_bucket))
    result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(url, RECIPE), name=f"ssrf-{url}")

    assert result.status == "FAILED"
    assert result.error == error, result.error_message()
    assert result.attempts("image_convert_resize") == 1
    assert result.failures() == [error]
    assert words.lower() in result.error_message().lower(), result.error_message()
    assert result.error_message().startswith("fileLocation:")
    assert len(internet.connections) == connections, internet.connections
    assert all(address == PUBLIC for address, _, _ in internet.connections), "connected to a refused address"
    assert set(objects(aws, aws.deployment.output_bucket)) == before


def test_a_public_url_renders_through_the_workflow(aws: LocalAws, internet: FakeInternet) -> None:
    url = "https://images.example.com/photo.jpg"
    result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(url, RECIPE), name="ssrf-public")
    assert result.status == "SUCCEEDED", f"{result.error}: {result.error_message()}"
    assert internet.connections == [(PUBLIC, "images.example.com", "/photo.jpg")]
    image = decode(objects(aws, aws.deployment.output_bucket)[key_of(result.output["fileLocation"])])
    assert (image.format, image.size) == ("PNG", (30, 20))
