"""Source dispatch: one location check for planner and worker, and a source identity that changes
whenever the bytes do (renditions are cached as immutable). DNS and the https pool are faked."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lambdas.adapters import fetch, s3, sources
from lambdas.core.errors import SourceRefusedError
from lambdas.core.keys import rendition_key
from lambdas.core.recipe import Recipe
from lambdas.settings import RenderAllSettings
from tests.support.worker_settings import settings_from

PUBLIC_V4 = "93.184.216.34"
RECIPE = Recipe(format="webp", width=300, height=200, fit="contain", quality=80)


@dataclass
class Origin:
    """The remote server: what it currently serves at each path, and every connection made to it."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    connections: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)

    def getaddrinfo(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        self.lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_V4, port))]

    def open_pool(self, address: str, target: fetch.Target, policy: fetch.FetchPolicy) -> Any:
        origin = self

        class Response:
            status = 200
            headers = {"Content-Type": "image/png"}

            def __init__(self, body: bytes) -> None:
                self.rest = body

            def read1(self, amount: int, decode_content: bool = True) -> bytes:
                chunk, self.rest = self.rest[:amount], self.rest[amount:]
                return chunk

            def release_conn(self) -> None:
                pass

        class Pool:
            def urlopen(self, method: str, path: str, **kwargs: Any) -> Response:
                origin.connections.append(f"{target.host}{path}")
                return Response(origin.bodies[path])

            def close(self) -> None:
                pass

        return Pool()


@pytest.fixture
def origin(monkeypatch: pytest.MonkeyPatch) -> Origin:
    fake = Origin()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    monkeypatch.setattr(fetch, "_open_pool", fake.open_pool)
    return fake


def settings_with(worker_env: dict[str, str], **overrides: str) -> RenderAllSettings:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return settings_from(RenderAllSettings, {**worker_env, **overrides}, monkeypatch)


def key_for(source: sources.SourceData) -> str:
    return rendition_key("renditions/", source.location, source.identity, RECIPE)


def test_same_url_new_bytes_gets_a_new_rendition_key(origin: Origin, worker_env: dict[str, str]) -> None:
    settings = settings_with(worker_env)
    origin.bodies["/cat.png"] = b"first version"
    first = sources.read_source("https://img.example.com/cat.png", settings)
    origin.bodies["/cat.png"] = b"second version"
    second = sources.read_source("https://img.example.com/cat.png", settings)
    assert (first.body, second.body) == (b"first version", b"second version")
    assert first.identity != second.identity
    assert key_for(first) != key_for(second)  # never overwritten in place under an immutable header


def test_same_url_same_bytes_keeps_its_key_and_the_url_is_normalised(
    origin: Origin, worker_env: dict[str, str]
) -> None:
    settings = settings_with(worker_env)
    origin.bodies["/cat.png"] = b"stable bytes"
    plain = sources.read_source("https://img.example.com/cat.png", settings)
    noisy = sources.read_source("HTTPS://IMG.Example.com./cat.png#fragment", settings)
    assert plain.identity == noisy.identity
    assert plain.identity.startswith("url=https://img.example.com/cat.png;sha256=")
    assert plain.identity.endswith(hashlib.sha256(b"stable bytes").hexdigest())
    assert key_for(plain) == key_for(sources.read_source("https://img.example.com/cat.png", settings))


def test_different_urls_with_the_same_bytes_stay_apart(origin: Origin, worker_env: dict[str, str]) -> None:
    settings = settings_with(worker_env)
    origin.bodies.update({"/a.png": b"same", "/b.png": b"same"})
    a = sources.read_source("https://img.example.com/a.png", settings)
    b = sources.read_source("https://img.example.com/b.png", settings)
    assert a.identity != b.identity


def test_local_files_are_identified_by_their_hash(tmp_path: Path, worker_env: dict[str, str]) -> None:
    settings = settings_with(worker_env, LOCAL_FILES_ROOT=str(tmp_path))
    path = tmp_path / "cat.png"
    path.write_bytes(b"local bytes")
    first = sources.read_source(str(path), settings)
    path.write_bytes(b"edited bytes")
    second = sources.read_source(str(path), settings)
    assert first.identity != second.identity
    assert second.body == b"edited bytes"


def test_check_location_says_what_kind_of_location_it_is(worker_env: dict[str, str]) -> None:
    settings = settings_with(worker_env, LOCAL_FILES_ROOT="/")
    assert sources.check_location("s3://bucket/dir/cat.png", settings) == s3.S3Location(
        "bucket", "dir/cat.png"
    )
    target = sources.check_location("https://IMG.example.com/cat.png", settings)
    assert isinstance(target, fetch.Target)
    assert target.url == "https://img.example.com/cat.png"
    assert sources.check_location("/tmp/cat.png", settings) == sources.LocalPath("/tmp/cat.png")


REFUSED = [
    ("s3://", {}, "not a valid s3://bucket/key URI"),
    ("ftp://img.example.com/cat.png", {}, "unsupported scheme 'ftp'; use s3:// or https://"),
    ("S3://bucket/cat.png", {}, "unsupported scheme 'S3'"),
    ("https://user:pw@img.example.com/cat.png", {}, "credentials in the URL are refused"),
    ("https://img.example.com:8443/cat.png", {}, "only port 443"),
    (
        "https://other.example.net/cat.png",
        {"ALLOWED_URL_HOSTS": "*.example.com"},
        "host other.example.net is not in ALLOWED_URL_HOSTS",
    ),
    ("/tmp/cat.png", {}, "LOCAL_FILES_ROOT"),
    ("/etc/passwd", {"LOCAL_FILES_ROOT": "/tmp"}, "outside the files root"),
    ("/tmp/../etc/passwd", {"LOCAL_FILES_ROOT": "/tmp"}, "outside the files root"),
]


@pytest.mark.parametrize(("location", "env", "problem"), REFUSED)
@pytest.mark.parametrize("field_name", ["fileLocation", "inputs.fileLocation"])
def test_check_location_refusals_name_the_field(
    worker_env: dict[str, str], location: str, env: dict[str, str], problem: str, field_name: str
) -> None:
    settings = settings_with(worker_env, **env)
    with pytest.raises(SourceRefusedError) as caught:
        sources.check_location(location, settings, field_name)
    assert caught.value.field == field_name
    assert problem in str(caught.value)
    assert str(caught.value).startswith(field_name)


@pytest.mark.parametrize(("location", "env", "problem"), REFUSED)
def test_read_source_refuses_exactly_as_check_location_and_before_any_io(
    origin: Origin, worker_env: dict[str, str], location: str, env: dict[str, str], problem: str
) -> None:
    settings = settings_with(worker_env, **env)
    with pytest.raises(SourceRefusedError) as checked:
        sources.check_location(location, settings)
    with pytest.raises(SourceRefusedError) as read:
        sources.read_source(location, settings)
    assert str(read.value) == str(checked.value)
    assert origin.lookups == []
    assert origin.connections == []


def test_allowed_hosts_still_apply_to_redirect_targets(
    origin: Origin, worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """check_location passes the first host; the fetch re-applies the same rule on every hop."""
    settings = settings_with(worker_env, ALLOWED_URL_HOSTS="img.example.com")

    def redirecting_pool(address: str, target: fetch.Target, policy: fetch.FetchPolicy) -> Any:
        class Redirect:
            status = 302
            headers = {"Location": "https://elsewhere.example.net/cat.png"}

            def release_conn(self) -> None:
                pass

        class Pool:
            def urlopen(self, *args: Any, **kwargs: Any) -> Redirect:
                origin.connections.append(target.host)
                return Redirect()

            def close(self) -> None:
                pass

        return Pool()

    monkeypatch.setattr(fetch, "_open_pool", redirecting_pool)
    with pytest.raises(SourceRefusedError, match=r"host elsewhere\.example\.net is not in ALLOWED_URL_HOSTS"):
        sources.read_source("https://img.example.com/cat.png", settings)
    assert origin.connections == ["img.example.com"]
