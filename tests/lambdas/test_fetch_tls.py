"""The pinned connection over real TLS on loopback: TCP goes to the checked IP while SNI, the
certificate check and the Host header use the hostname. Only the loopback refusal and the port rule
are relaxed for the test (the server cannot be public or on 443); DNS is patched."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdas.adapters import fetch
from lambdas.core.errors import SourceRefusedError
from tests.support import images
from tests.support.tls import https_server, make_ca_and_cert, resolve_to_loopback

HOSTNAME = "images.test"


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve_to_loopback(monkeypatch, HOSTNAME)


def test_fetch_over_real_tls_pins_the_address_and_verifies_the_name(
    tmp_path: Path, loopback_is_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = make_ca_and_cert(tmp_path, HOSTNAME)
    body = images.rgba_png(20, 10)
    with https_server(cert, key, body) as (port, log):
        monkeypatch.setattr(fetch, "HTTPS_PORT", port)
        policy = fetch.FetchPolicy(max_bytes=1_000_000, ca_bundle=str(ca))
        fetched = fetch.fetch(f"https://{HOSTNAME}:{port}/photo.png", policy)
    assert fetched.body == body
    assert log.sni == [HOSTNAME]
    assert log.hosts == [HOSTNAME]  # the (patched) default port is left out, as for 443


def test_a_certificate_for_another_name_is_refused(
    tmp_path: Path, loopback_is_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = make_ca_and_cert(tmp_path, "someone-else.test")
    with https_server(cert, key, b"x") as (port, log):
        monkeypatch.setattr(fetch, "HTTPS_PORT", port)
        policy = fetch.FetchPolicy(max_bytes=1000, ca_bundle=str(ca))
        with pytest.raises(SourceRefusedError, match="TLS verification"):
            fetch.fetch(f"https://{HOSTNAME}:{port}/photo.png", policy)
    assert log.hosts == []  # no request was sent over the unverified connection
