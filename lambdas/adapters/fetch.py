"""SSRF-safe https fetch of untrusted URLs.

The host is resolved once, every address it resolves to is checked (loopback, private, link-local,
CGNAT, multicast, reserved, IPv4-mapped/6to4/NAT64-embedded private addresses are refused), and the
TCP connection is pinned to the checked address while TLS SNI, certificate verification and the Host
header still use the hostname, so DNS rebinding cannot swap the address between check and use.
Redirects are followed by hand (at most `max_redirects`), each target re-checked from scratch.
Numeric-host tricks ("2130706433", "0x7f.1", "0177.0.0.1") are refused outright.
The total deadline bounds the whole download: every body read waits at most the time left, so a
server trickling bytes or stalling cannot hold the worker until the Lambda timeout.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from lambdas.core.errors import (
    ImageTooLargeError,
    SourceNotFoundError,
    SourceRefusedError,
    TransientSourceError,
)

HTTPS_PORT = 443
CHUNK_BYTES = 64 * 1024
USER_AGENT = "imgpipe-fetch/1"
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one fetch; `allowed_hosts` entries are exact names or '*.example.com' suffixes."""

    max_bytes: int
    allowed_hosts: tuple[str, ...] = ()
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 3
    ca_bundle: str | None = None  # None: the system trust store


@dataclass(frozen=True)
class Target:
    """A checked URL: what to connect to and what to say."""

    url: str  # normalised: https://host[:port]/path?query, no fragment, no credentials
    host: str  # IDNA-encoded, lower case, no trailing dot
    port: int
    path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == HTTPS_PORT else f"{host}:{self.port}"


@dataclass(frozen=True)
class Fetched:
    url: str  # the original, normalised URL: the source identity
    final_url: str
    body: bytes
    content_type: str | None


def parse_target(url: str, field: str = "fileLocation") -> Target:
    """Validate and normalise an https URL (scheme, credentials, port, host form)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or HTTPS_PORT
    except ValueError as error:
        raise SourceRefusedError(field, f"malformed URL: {error}") from None
    if parts.scheme.lower() != "https":
        raise SourceRefusedError(field, f"only https:// URLs are fetched, not {parts.scheme or 'no'} scheme")
    if parts.username is not None or parts.password is not None:
        raise SourceRefusedError(field, "credentials in the URL are refused")
    if port != HTTPS_PORT:
        raise SourceRefusedError(field, f"only port {HTTPS_PORT} is allowed, not {port}")
    raw_host = (parts.hostname or "").rstrip(".")
    if not raw_host:
        raise SourceRefusedError(field, "the URL has no host")
    if "%" in raw_host:
        raise SourceRefusedError(field, "IPv6 zone identifiers are refused")
    literal = _ip_literal(raw_host, field)
    if literal is not None:
        host = str(literal)
    else:
        try:
            host = raw_host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise SourceRefusedError(field, f"invalid host name {raw_host!r}") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    shown = f"[{host}]" if ":" in host else host
    return Target(url=f"https://{shown}{path}", host=host, port=port, path=path)


def _ip_literal(host: str, field: str) -> IPAddress | None:
    """An IP written as the host: canonical forms only; inet_aton's shorthand forms are refused."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise SourceRefusedError(field, f"invalid IPv6 host {host!r}") from None
    if _NUMERIC_HOST.match(host.lower()):
        try:
            return ipaddress.IPv4Address(host)
        except ValueError:
            raise SourceRefusedError(field, f"non-canonical numeric host {host!r} is refused") from None
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = address.ipv4_mapped or address.sixtofour
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.teredo is not None:
            return "a Teredo tunnel address"
        if embedded is not None:
            problem = address_problem(embedded)
            return f"an IPv6 address embedding {embedded}, {problem}" if problem else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("CGNAT shared address space", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def host_allowed(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether `host` matches the allow-list; an empty list allows every (public) host."""
    if not allowed_hosts:
        return True
    for raw_entry in allowed_hosts:
        entry = raw_entry.lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


def require_host_allowed(target: Target, allowed_hosts: tuple[str, ...], field: str = "fileLocation") -> None:
    """The one place the ALLOWED_URL_HOSTS rule is enforced: planner, source dispatch, every redirect."""
    if not host_allowed(target.host, allowed_hosts):
        raise SourceRefusedError(field, f"host {target.host} is not in ALLOWED_URL_HOSTS")


def resolve_checked(target: Target, field: str = "fileLocation") -> str:
    """Resolve the host and return one address, refusing if ANY resolved address is not public."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        if error.errno == socket.EAI_AGAIN:
            raise TransientSourceError(field, f"DNS lookup of {target.host} failed temporarily") from None
        raise SourceNotFoundError(field, f"host {target.host} does not resolve") from None
    addresses = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        problem = address_problem(address)
        if problem:
            raise SourceRefusedError(field, f"host {target.host} resolves to {address}, which is {problem}")
        addresses.append(text)
    if not addresses:
        raise SourceNotFoundError(field, f"host {target.host} has no addresses")
    return addresses[0]


def _open_pool(address: str, target: Target, policy: FetchPolicy) -> Any:
    """A one-connection urllib3 pool to `address`, verifying the certificate against `target.host`."""
    import urllib3

    return urllib3.HTTPSConnectionPool(
        host=address,
        port=target.port,
        server_hostname=target.host,
        assert_hostname=target.host,
        cert_reqs="CERT_REQUIRED",
        ca_certs=policy.ca_bundle,
        timeout=urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout),
        retries=False,
        maxsize=1,
    )


def fetch(
    url: str,
    policy: FetchPolicy,
    field: str = "fileLocation",
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Fetched:
    """GET an image over https under the SSRF rules above; the body is capped while streaming.

    `clock` is the monotonic clock the total deadline is measured on (injectable for tests).
    """
    original = parse_target(url, field)
    target = original
    deadline = clock() + policy.total_timeout
    for hop in range(policy.max_redirects + 1):
        with _checked_pool(target, policy, deadline, clock, field) as pool:
            response = pool.urlopen(
                "GET",
                target.path,
                headers=_request_headers(target, {"Accept": "image/*", "Accept-Encoding": "identity"}),
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                status = int(response.status)
                if status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise SourceRefusedError(field, f"HTTP {status} redirect without a Location")
                    if hop == policy.max_redirects:
                        raise SourceRefusedError(field, f"more than {policy.max_redirects} redirects")
                    target = parse_target(urljoin(target.url, location), field)
                    continue
                _raise_for_status(status, target, field)
                body = _read_capped(response, policy, deadline, clock, field)
                return Fetched(original.url, target.url, body, response.headers.get("Content-Type"))
            finally:
                response.release_conn()
    raise SourceRefusedError(field, f"more than {policy.max_redirects} redirects")  # pragma: no cover


@dataclass(frozen=True)
class Answer:
    """An https response as it came: status, reason, every header's values, the (capped) body."""

    status: int
    reason: str
    headers: dict[str, list[str]]
    body: bytes


def send(
    method: str,
    url: str,
    policy: FetchPolicy,
    *,
    headers: dict[str, str],
    body: bytes | None = None,
    field: str = "uri",
    clock: Callable[[], float] = time.monotonic,
) -> Answer:
    """One https request of any method under the same SSRF rules as `fetch`; any status is answered
    (a redirect is not followed: its target would have to be checked like the first URL)."""
    target = parse_target(url, field)
    deadline = clock() + policy.total_timeout
    with _checked_pool(target, policy, deadline, clock, field) as pool:
        response = pool.urlopen(
            method,
            target.path,
            headers=_request_headers(target, headers),
            body=body,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            data = _read_capped(response, policy, deadline, clock, field)
            values = {name: response.headers.getlist(name) for name in response.headers}
            return Answer(int(response.status), str(response.reason or ""), values, data)
        finally:
            response.release_conn()


def _request_headers(target: Target, headers: dict[str, str]) -> dict[str, str]:
    """The caller's headers; Host and User-Agent are always this module's own."""
    own = {"host", "user-agent"}
    return {
        **{k: v for k, v in headers.items() if k.lower() not in own},
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
    }


@contextmanager
def _checked_pool(
    target: Target, policy: FetchPolicy, deadline: float, clock: Callable[[], float], field: str
) -> Iterator[Any]:
    """A pool pinned to the checked address of `target`, transport failures as typed errors."""
    import urllib3

    require_host_allowed(target, policy.allowed_hosts, field)
    left = _time_left(deadline, clock, policy, field)
    hop_policy = replace(
        policy,
        connect_timeout=min(policy.connect_timeout, left),
        read_timeout=min(policy.read_timeout, left),
    )
    address = resolve_checked(target, field)
    pool = _open_pool(address, target, hop_policy)
    try:
        yield pool
    except urllib3.exceptions.SSLError as error:
        raise SourceRefusedError(field, f"TLS verification of {target.host} failed: {error}") from None
    except (urllib3.exceptions.TimeoutError, TimeoutError) as error:
        raise TransientSourceError(field, f"timed out fetching {target.url}: {error}") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise TransientSourceError(field, f"connection problem fetching {target.url}: {error}") from None
    finally:
        pool.close()


def _raise_for_status(status: int, target: Target, field: str) -> None:
    if status == 200:
        return
    if status in (401, 403, 404, 410):
        raise SourceNotFoundError(field, f"HTTP {status} from {target.url}")
    if status in (408, 425, 429) or status >= 500:
        raise TransientSourceError(field, f"HTTP {status} from {target.url}")
    raise SourceRefusedError(field, f"unexpected HTTP {status} from {target.url}")


def _time_left(deadline: float, clock: Callable[[], float], policy: FetchPolicy, field: str) -> float:
    left = deadline - clock()
    if left <= 0:
        raise TransientSourceError(field, f"download exceeded {policy.total_timeout} s")
    return left


def _read_capped(
    response: Any, policy: FetchPolicy, deadline: float, clock: Callable[[], float], field: str
) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > policy.max_bytes:
        raise ImageTooLargeError(field, f"{declared} bytes exceeds the limit of {policy.max_bytes} bytes")
    chunks: list[bytes] = []
    received = 0
    for chunk in _body_chunks(response, policy, deadline, clock, field):
        received += len(chunk)
        if received > policy.max_bytes:
            raise ImageTooLargeError(field, f"more than {policy.max_bytes} bytes (the limit)")
        chunks.append(chunk)
    return b"".join(chunks)


def _body_chunks(
    response: Any, policy: FetchPolicy, deadline: float, clock: Callable[[], float], field: str
) -> Iterator[bytes]:
    """The body as it arrives, never waiting past the deadline.

    `read1` returns whatever one socket read gives (unlike `stream`, which blocks until a whole
    chunk is in), and before each read the socket timeout is cut to the time left, because the read
    timeout alone restarts with every byte a trickling server sends.
    """
    import urllib3

    read1 = getattr(response, "read1", None)
    if read1 is None:  # a stand-in response without read1 (test doubles): no socket to bound
        for chunk in response.stream(CHUNK_BYTES, decode_content=True):
            _time_left(deadline, clock, policy, field)
            yield chunk
        return
    while True:
        left = _time_left(deadline, clock, policy, field)
        _set_socket_timeout(response, min(policy.read_timeout, left))
        try:
            chunk = read1(CHUNK_BYTES, decode_content=True)
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            _time_left(deadline, clock, policy, field)  # the deadline, not the read timeout, ran out
            raise
        if not chunk:
            return
        yield chunk


def _set_socket_timeout(response: Any, seconds: float) -> None:
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(seconds)
