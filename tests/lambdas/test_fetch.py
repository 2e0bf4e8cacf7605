"""SSRF-safe fetch: DNS is patched (socket.getaddrinfo) and the connection pool is faked, so these
tests never touch the network; they check what is refused, and where and how a fetch connects.
The total deadline is checked with an injected clock, and once over real TLS on loopback."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import urllib3

from lambdas.adapters import fetch
from lambdas.core.errors import (
    ImageTooLargeError,
    SourceNotFoundError,
    SourceRefusedError,
    TransientSourceError,
)
from tests.support.tls import make_ca_and_cert, resolve_to_loopback

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"
POLICY = fetch.FetchPolicy(max_bytes=1000)


def fake_dns(table: dict[str, list[str]]) -> Callable[..., list[Any]]:
    """getaddrinfo over a fixed table; IP literals resolve to themselves, as the real one does."""

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        addresses = table.get(host)
        if addresses is None:
            try:
                fetch.ipaddress.ip_address(host)
                addresses = [host]
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    return getaddrinfo


@dataclass
class FakeSocket:
    timeouts: list[float] = field(default_factory=list)

    def settimeout(self, seconds: float) -> None:
        self.timeouts.append(seconds)


@dataclass
class FakeConnection:
    sock: FakeSocket = field(default_factory=FakeSocket)


@dataclass
class FakeResponse:
    """urllib3's HTTPResponse as fetch uses it: `read1` hands out one scripted chunk per call."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    released: bool = False
    connection: FakeConnection = field(default_factory=FakeConnection)
    reads: int = 0

    def read1(self, amount: int, decode_content: bool = True) -> bytes:
        assert decode_content
        self.reads += 1
        return self.chunks.pop(0) if self.chunks else b""

    def release_conn(self) -> None:
        self.released = True


@dataclass
class Connection:
    address: str
    server_hostname: str
    host_header: str
    path: str
    read_timeout: float = 0.0


class FakeNetwork:
    """Stands in for urllib3 pools: records every connection and answers from a script per URL."""

    def __init__(self, routes: dict[str, FakeResponse | Exception]) -> None:
        self.routes = routes
        self.connections: list[Connection] = []
        self.closed = 0

    def open_pool(self, address: str, target: fetch.Target, policy: fetch.FetchPolicy) -> Any:
        network = self

        class Pool:
            def urlopen(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> FakeResponse:
                assert kwargs["redirect"] is False
                assert kwargs["retries"] is False
                network.connections.append(
                    Connection(address, target.host, headers["Host"], path, policy.read_timeout)
                )
                answer = network.routes[f"https://{headers['Host']}{path}"]
                if isinstance(answer, Exception):
                    raise answer
                return answer

            def close(self) -> None:
                network.closed += 1

        return Pool()


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeNetwork]:
    def install(
        routes: dict[str, FakeResponse | Exception], dns: dict[str, list[str]] | None = None
    ) -> FakeNetwork:
        fake = FakeNetwork(routes)
        monkeypatch.setattr(fetch, "_open_pool", fake.open_pool)
        monkeypatch.setattr(socket, "getaddrinfo", fake_dns(dns or {"img.example.com": [PUBLIC_V4]}))
        return fake

    return install


def ok(body: bytes = b"IMAGE", **headers: str) -> FakeResponse:
    return FakeResponse(200, {"Content-Type": "image/png", **headers}, [body])


def test_fetch_pins_the_checked_address_and_keeps_the_hostname(network: Callable[..., FakeNetwork]) -> None:
    net = network({"https://img.example.com/a/cat.png?size=1": ok(b"PNGDATA")})
    fetched = fetch.fetch("HTTPS://IMG.example.com./a/cat.png?size=1#frag", POLICY)
    assert fetched.body == b"PNGDATA"
    assert fetched.url == "https://img.example.com/a/cat.png?size=1"
    (connection,) = net.connections
    assert connection.address == PUBLIC_V4  # TCP goes to the address that was checked...
    assert connection.server_hostname == "img.example.com"  # ...TLS SNI and cert check use the name
    assert connection.host_header == "img.example.com"
    assert net.closed == 1


def test_real_pool_verifies_the_certificate_against_the_hostname() -> None:
    pool = fetch._open_pool(PUBLIC_V4, fetch.parse_target("https://img.example.com/x"), POLICY)
    assert pool.host == PUBLIC_V4
    assert pool.conn_kw["server_hostname"] == "img.example.com"
    assert pool.assert_hostname == "img.example.com"
    assert pool.cert_reqs == "CERT_REQUIRED"
    assert pool.retries is False
    assert pool.timeout.connect_timeout == POLICY.connect_timeout
    assert pool.timeout.read_timeout == POLICY.read_timeout


REFUSED_ADDRESSES = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.9", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # the instance metadata service
    ("100.64.0.1", "CGNAT"),
    ("224.0.0.251", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", ""),
    ("192.0.2.10", ""),  # TEST-NET-1, not global
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "embedding 127.0.0.1"),
    ("::ffff:169.254.169.254", "embedding 169.254.169.254"),
    ("2002:7f00:1::1", "embedding 127.0.0.1"),  # 6to4
    ("64:ff9b::a00:1", "embedding 10.0.0.1"),  # NAT64
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED_ADDRESSES)
def test_hosts_resolving_to_non_public_addresses_are_refused(
    network: Callable[..., FakeNetwork], address: str, reason: str
) -> None:
    net = network({}, dns={"evil.example.com": [address]})
    with pytest.raises(SourceRefusedError) as caught:
        fetch.fetch("https://evil.example.com/x.png", POLICY)
    assert caught.value.field == "fileLocation"
    assert reason in str(caught.value)
    assert net.connections == []  # refused before any connection


def test_one_private_address_among_public_ones_refuses_the_host(network: Callable[..., FakeNetwork]) -> None:
    net = network({}, dns={"mixed.example.com": [PUBLIC_V4, "10.0.0.7"]})
    with pytest.raises(SourceRefusedError, match=r"10\.0\.0\.7"):
        fetch.fetch("https://mixed.example.com/x.png", POLICY)
    assert net.connections == []


def test_public_ipv6_is_allowed(network: Callable[..., FakeNetwork]) -> None:
    net = network({"https://img6.example.com/x": ok()}, dns={"img6.example.com": [PUBLIC_V6]})
    assert fetch.fetch("https://img6.example.com/x", POLICY).body == b"IMAGE"
    assert net.connections[0].address == PUBLIC_V6


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://img.example.com/x.png", "only https"),
        ("ftp://img.example.com/x.png", "only https"),
        ("file:///etc/passwd", "only https"),
        ("gopher://img.example.com/", "only https"),
        ("https://user:secret@img.example.com/x.png", "credentials"),
        ("https://img.example.com:8443/x.png", "port"),
        ("https://img.example.com:99999/x.png", "malformed"),
        ("https:///x.png", "no host"),
        ("https://2130706433/x.png", "non-canonical numeric host"),
        ("https://0x7f.0.0.1/x.png", "non-canonical numeric host"),
        ("https://0177.0.0.1/x.png", "non-canonical numeric host"),
        ("https://127.1/x.png", "non-canonical numeric host"),
        ("https://0x7f000001/x.png", "non-canonical numeric host"),
        ("https://[fe80::1%25eth0]/x.png", "zone"),
        ("https://127.0.0.1/x.png", "loopback"),
        ("https://[::1]/x.png", "loopback"),
        ("https://[::ffff:7f00:1]/x.png", "embedding 127.0.0.1"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://localhost/x.png", "loopback"),
    ],
)
def test_url_tricks_are_refused(network: Callable[..., FakeNetwork], url: str, problem: str) -> None:
    net = network({}, dns={"localhost": ["127.0.0.1", "::1"]})
    with pytest.raises(SourceRefusedError) as caught:
        fetch.fetch(url, POLICY)
    assert problem in str(caught.value)
    assert net.connections == []


@pytest.mark.parametrize(
    ("allowed", "host", "accepted"),
    [
        ((), "img.example.com", True),
        (("img.example.com",), "img.example.com", True),
        (("img.example.com",), "other.example.com", False),
        (("*.example.com",), "img.example.com", True),
        (("*.example.com",), "example.com", False),
        (("*.example.com",), "img.example.com.evil.net", False),
        (("*.example.com",), "evilexample.com", False),
    ],
)
def test_host_allow_list(
    network: Callable[..., FakeNetwork], allowed: tuple[str, ...], host: str, accepted: bool
) -> None:
    network({f"https://{host}/x": ok()}, dns={host: [PUBLIC_V4]})
    policy = fetch.FetchPolicy(max_bytes=1000, allowed_hosts=allowed)
    if accepted:
        assert fetch.fetch(f"https://{host}/x", policy).body == b"IMAGE"
    else:
        with pytest.raises(SourceRefusedError, match="ALLOWED_URL_HOSTS"):
            fetch.fetch(f"https://{host}/x", policy)


def test_redirects_are_followed_and_rechecked(network: Callable[..., FakeNetwork]) -> None:
    net = network(
        {
            "https://img.example.com/a": FakeResponse(302, {"Location": "/b"}),
            "https://img.example.com/b": FakeResponse(301, {"Location": "https://cdn.example.net/c"}),
            "https://cdn.example.net/c": ok(b"FINAL"),
        },
        dns={"img.example.com": [PUBLIC_V4], "cdn.example.net": ["93.184.216.35"]},
    )
    fetched = fetch.fetch("https://img.example.com/a", POLICY)
    assert fetched.body == b"FINAL"
    assert fetched.url == "https://img.example.com/a"  # identity is the requested URL
    assert fetched.final_url == "https://cdn.example.net/c"
    assert [c.address for c in net.connections] == [PUBLIC_V4, PUBLIC_V4, "93.184.216.35"]


@pytest.mark.parametrize(
    ("location", "dns", "problem"),
    [
        ("https://internal.example.com/x", {"internal.example.com": ["10.0.0.1"]}, "private"),
        ("http://img.example.com/x", {}, "only https"),
        ("https://169.254.169.254/latest/meta-data/", {}, "link-local"),
        ("https://img.example.com:22/", {}, "port"),
    ],
)
def test_redirects_to_forbidden_targets_are_refused(
    network: Callable[..., FakeNetwork], location: str, dns: dict[str, list[str]], problem: str
) -> None:
    net = network(
        {"https://img.example.com/a": FakeResponse(302, {"Location": location})},
        dns={"img.example.com": [PUBLIC_V4], **dns},
    )
    with pytest.raises(SourceRefusedError, match=problem):
        fetch.fetch("https://img.example.com/a", POLICY)
    assert len(net.connections) == 1


def test_redirect_chain_is_capped(network: Callable[..., FakeNetwork]) -> None:
    routes: dict[str, FakeResponse | Exception] = {
        f"https://img.example.com/{i}": FakeResponse(302, {"Location": f"/{i + 1}"}) for i in range(10)
    }
    net = network(routes)
    with pytest.raises(SourceRefusedError, match="more than 3 redirects"):
        fetch.fetch("https://img.example.com/0", POLICY)
    assert len(net.connections) == 4


def test_redirect_without_location_is_refused(network: Callable[..., FakeNetwork]) -> None:
    network({"https://img.example.com/a": FakeResponse(302)})
    with pytest.raises(SourceRefusedError, match="without a Location"):
        fetch.fetch("https://img.example.com/a", POLICY)


def test_declared_length_over_the_cap_is_refused_before_reading(network: Callable[..., FakeNetwork]) -> None:
    response = FakeResponse(200, {"Content-Length": "5000"}, [b"x" * 5000])
    network({"https://img.example.com/big": response})
    with pytest.raises(ImageTooLargeError, match="5000 bytes"):
        fetch.fetch("https://img.example.com/big", POLICY)
    assert response.released


def test_stream_over_the_cap_is_cut_off(network: Callable[..., FakeNetwork]) -> None:
    network({"https://img.example.com/big": FakeResponse(200, {}, [b"x" * 400] * 10)})
    with pytest.raises(ImageTooLargeError, match="more than 1000 bytes"):
        fetch.fetch("https://img.example.com/big", POLICY)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (FakeResponse(404), SourceNotFoundError),
        (FakeResponse(403), SourceNotFoundError),
        (FakeResponse(410), SourceNotFoundError),
        (FakeResponse(429), TransientSourceError),
        (FakeResponse(500), TransientSourceError),
        (FakeResponse(503), TransientSourceError),
        (FakeResponse(418), SourceRefusedError),
        (
            urllib3.exceptions.ReadTimeoutError(None, "/x", "read timed out"),  # type: ignore[arg-type]
            TransientSourceError,
        ),
        (urllib3.exceptions.ConnectTimeoutError("connect timed out"), TransientSourceError),
        (urllib3.exceptions.NewConnectionError(None, "refused"), TransientSourceError),  # type: ignore[arg-type]
        (urllib3.exceptions.ProtocolError("connection reset"), TransientSourceError),
        (urllib3.exceptions.SSLError("certificate verify failed"), SourceRefusedError),
    ],
)
def test_http_and_transport_failures_are_typed(
    network: Callable[..., FakeNetwork], answer: FakeResponse | Exception, error: type[Exception]
) -> None:
    network({"https://img.example.com/x": answer})
    with pytest.raises(error) as caught:
        fetch.fetch("https://img.example.com/x", POLICY)
    assert caught.value.retryable is (error is TransientSourceError)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("errno", "error"), [(socket.EAI_NONAME, SourceNotFoundError), (socket.EAI_AGAIN, TransientSourceError)]
)
def test_dns_failures_are_typed(monkeypatch: pytest.MonkeyPatch, errno: int, error: type[Exception]) -> None:
    def failing(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(errno, "dns says no")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(error, match=r"img\.example\.com"):
        fetch.fetch("https://img.example.com/x", POLICY)


class FakeClock:
    """A monotonic clock that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class TricklingResponse(FakeResponse):
    """One byte per read, each read taking `seconds_per_read` on the fake clock, for ever."""

    clock: FakeClock = field(default_factory=FakeClock)
    seconds_per_read: float = 0.5

    def read1(self, amount: int, decode_content: bool = True) -> bytes:
        self.reads += 1
        self.clock.now += self.seconds_per_read
        return b"x"


def test_a_trickling_server_is_cut_off_at_the_total_deadline(network: Callable[..., FakeNetwork]) -> None:
    clock = FakeClock()
    response = TricklingResponse(200, {"Content-Type": "image/png"}, clock=clock)
    network({"https://img.example.com/slow": response})
    policy = fetch.FetchPolicy(max_bytes=10_000, read_timeout=1.0, total_timeout=2.0)
    with pytest.raises(TransientSourceError, match=r"download exceeded 2\.0 s") as caught:
        fetch.fetch("https://img.example.com/slow", policy, clock=clock)
    assert caught.value.field == "fileLocation"
    assert response.reads == 4  # 2.0 s / 0.5 s per byte: bounded by the deadline, not by max_bytes
    assert response.released


def test_each_read_waits_at_most_the_time_left(network: Callable[..., FakeNetwork]) -> None:
    clock = FakeClock()
    response = TricklingResponse(200, {}, clock=clock, seconds_per_read=0.75)
    network({"https://img.example.com/slow": response})
    policy = fetch.FetchPolicy(max_bytes=10_000, read_timeout=1.0, total_timeout=3.0)
    with pytest.raises(TransientSourceError, match="exceeded"):
        fetch.fetch("https://img.example.com/slow", policy, clock=clock)
    # The read timeout (1 s) until less than that is left, then the time left: 0.75, then 0.
    assert response.connection.sock.timeouts == pytest.approx([1.0, 1.0, 1.0, 0.75])


def test_a_read_timeout_after_the_deadline_is_reported_as_the_deadline(
    network: Callable[..., FakeNetwork],
) -> None:
    clock = FakeClock()

    @dataclass
    class StallingResponse(FakeResponse):
        def read1(self, amount: int, decode_content: bool = True) -> bytes:
            clock.now += self.connection.sock.timeouts[-1]  # the socket waits its whole timeout
            raise urllib3.exceptions.ReadTimeoutError(None, "/x", "read timed out")  # type: ignore[arg-type]

    network({"https://img.example.com/stall": StallingResponse(200)})
    policy = fetch.FetchPolicy(max_bytes=10_000, read_timeout=10.0, total_timeout=0.5)
    with pytest.raises(TransientSourceError, match=r"download exceeded 0\.5 s"):
        fetch.fetch("https://img.example.com/stall", policy, clock=clock)


def test_a_read_timeout_before_the_deadline_stays_a_read_timeout(network: Callable[..., FakeNetwork]) -> None:
    @dataclass
    class StallingResponse(FakeResponse):
        def read1(self, amount: int, decode_content: bool = True) -> bytes:
            raise urllib3.exceptions.ReadTimeoutError(None, "/x", "read timed out")  # type: ignore[arg-type]

    network({"https://img.example.com/stall": StallingResponse(200)})
    with pytest.raises(TransientSourceError, match="timed out fetching"):
        fetch.fetch("https://img.example.com/stall", POLICY, clock=FakeClock())


def test_redirect_hops_share_one_deadline(
    network: Callable[..., FakeNetwork], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    net = network(
        {f"https://img.example.com/{i}": FakeResponse(302, {"Location": f"/{i + 1}"}) for i in range(4)}
    )

    def slow_open_pool(address: str, target: fetch.Target, policy: fetch.FetchPolicy) -> Any:
        clock.now += 1.5  # each hop costs 1.5 s
        return net.open_pool(address, target, policy)

    monkeypatch.setattr(fetch, "_open_pool", slow_open_pool)
    policy = fetch.FetchPolicy(max_bytes=1000, read_timeout=10.0, total_timeout=4.0)
    with pytest.raises(TransientSourceError, match="exceeded"):
        fetch.fetch("https://img.example.com/0", policy, clock=clock)
    # 4 s in all: the 10 s read timeout is cut to 4 s, then to what is left; no fourth hop.
    assert [c.read_timeout for c in net.connections] == pytest.approx([4.0, 2.5, 1.0])


SLOW_HOST = "slow.test"


@dataclass
class SlowServer:
    port: int
    ca_bundle: str
    body_bytes_sent: int = 0


@contextmanager
def slow_https_server(tmp_path: Path, pace: str) -> Iterator[SlowServer]:
    """One TLS connection on loopback: headers announce 1000 bytes, then the body comes slowly.

    pace "trickle": one byte every 50 ms (200 bytes at most, 10 s); "stall": 3 bytes, then silence
    for up to 5 s. Both end early once the client hangs up or the test is over.
    """
    ca, cert, key = make_ca_and_cert(tmp_path, SLOW_HOST)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    server = SlowServer(listener.getsockname()[1], str(ca))
    stop = threading.Event()

    def serve() -> None:
        raw, _ = listener.accept()
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n")
                if pace == "trickle":
                    for _ in range(200):
                        conn.sendall(b"x")
                        server.body_bytes_sent += 1
                        if stop.wait(0.05):
                            return
                else:
                    conn.sendall(b"xyz")
                    server.body_bytes_sent += 3
                    stop.wait(5)
        except OSError:
            return  # the client hung up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(10)
        listener.close()


@pytest.fixture
def slow_host_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """SLOW_HOST resolves to 127.0.0.1 and only that loopback address counts as public."""
    resolve_to_loopback(monkeypatch, SLOW_HOST)


@pytest.mark.parametrize("pace", ["trickle", "stall"])
def test_a_slow_server_over_real_tls_is_cut_off_at_the_total_deadline(
    tmp_path: Path, slow_host_on_loopback: None, monkeypatch: pytest.MonkeyPatch, pace: str
) -> None:
    """A 30 s read timeout never fires here; only the 0.3 s total deadline can end the download.

    Without it the trickle would run to its 200th byte and the stall to its 5 s, and both would then
    fail as a short body ("connection problem"), not as the deadline.
    """
    with slow_https_server(tmp_path, pace) as server:
        monkeypatch.setattr(fetch, "HTTPS_PORT", server.port)
        policy = fetch.FetchPolicy(
            max_bytes=10_000, read_timeout=30.0, total_timeout=0.3, ca_bundle=server.ca_bundle
        )
        with pytest.raises(TransientSourceError, match=r"download exceeded 0\.3 s") as caught:
            fetch.fetch(f"https://{SLOW_HOST}:{server.port}/slow.png", policy)
    assert caught.value.retryable
    assert 0 < server.body_bytes_sent < 200
