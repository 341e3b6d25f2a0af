"""Hostile networks against the registry transport: every wait is bounded and said, every broken
answer is retried where that is safe or named, and no HTTP library exception escapes."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest

from supplychain import progress
from supplychain.errors import RegistryError
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.registry import RegistryOptions, Repository
from supplychain.registry import transport as transport_mod
from supplychain.registry.options import HostCredential
from tests.registry.lying_server import LyingRegistry


class Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, name: str, detail: str = "") -> None:
        pass

    def done(self, name: str, detail: str = "") -> None:
        pass

    def info(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture
def liar() -> Iterator[LyingRegistry]:
    server = LyingRegistry()
    yield server
    server.close()


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Notes]:
    sink = Notes()
    monkeypatch.setattr(transport_mod, "HEARTBEAT_SECONDS", 0.2)
    progress.set_notice_sink(sink)
    yield sink
    progress.set_notice_sink(None)


def options(**kw: float) -> RegistryOptions:
    base = {"backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 3, "read_timeout": 0.5,
            "connect_timeout": 0.5, "deadline": 5.0}
    return RegistryOptions(**{**base, **kw})  # type: ignore[arg-type]


def a_manifest(liar: LyingRegistry) -> tuple[str, bytes]:
    config = Descriptor.for_bytes(MediaType.OCI_CONFIG, b"{}").to_dict()
    data = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "config": config,
                           "layers": []})
    return liar.put_manifest("v1", data, MediaType.OCI_MANIFEST), data


def a_blob(liar: LyingRegistry, size: int = 300_000) -> Descriptor:
    data = hashlib.sha256(b"seed").digest() * (size // 32)
    desc = Descriptor.for_bytes("application/octet-stream", data)
    liar.blobs[desc.digest] = data
    return desc


@pytest.mark.parametrize("behaviour", ["stall", "truncate", "bad-chunked"])
def test_a_broken_manifest_answer_is_retried(liar: LyingRegistry, behaviour: str) -> None:
    digest, data = a_manifest(liar)
    liar.inject("GET", r"/manifests/", behaviour=behaviour, times=2)
    repo = Repository(liar.host, "lies/app", options())
    assert repo.read_manifest(digest)[0] == data
    assert liar.count("GET", r"/manifests/") == 3


@pytest.mark.parametrize("behaviour", ["stall", "truncate", "bad-chunked"])
def test_a_manifest_answer_that_always_breaks_is_exit_3_naming_the_host(liar: LyingRegistry,
                                                                         behaviour: str) -> None:
    digest, _ = a_manifest(liar)
    liar.inject("GET", r"/manifests/", behaviour=behaviour, times=100)
    repo = Repository(liar.host, "lies/app", options())
    began = time.monotonic()
    with pytest.raises(RegistryError) as info:
        repo.read_manifest(digest)
    assert time.monotonic() - began < 5.5
    err = info.value
    assert err.exit_code == 3 and liar.host in err.diagnostics() and "/manifests/" in err.diagnostics()
    assert "broke off" in err.message
    assert err.facts["attempts"] == 4 and liar.count("GET", r"/manifests/") == 4


def test_a_blob_that_breaks_off_resumes_with_range(liar: LyingRegistry, notes: Notes) -> None:
    desc = a_blob(liar)
    liar.inject("GET", r"/blobs/sha256", behaviour="truncate", times=2)
    repo = Repository(liar.host, "lies/app", options())
    assert hashlib.sha256(repo.read_blob(desc)).hexdigest() == desc.digest.split(":")[1]
    ranges = [r.headers.get("Range") for r in liar.requests if "/blobs/" in r.path]
    assert ranges[0] is None and ranges[1] == f"bytes={desc.size // 2}-"
    assert any("resuming" in line for line in notes.lines)


def test_a_registry_that_ignores_range_still_gives_the_right_bytes(liar: LyingRegistry) -> None:
    desc = a_blob(liar)
    liar.ignore_range = True
    liar.inject("GET", r"/blobs/sha256", behaviour="truncate", times=1)
    repo = Repository(liar.host, "lies/app", options())
    assert repo.read_blob(desc) == liar.blobs[desc.digest]


def test_a_registry_that_answers_after_the_deadline_is_refused_in_bounded_time(
        liar: LyingRegistry, notes: Notes) -> None:
    """Every answer comes after 125 s (here: after 3 s with a 1 s read timeout and a 2.5 s deadline)."""
    digest, _ = a_manifest(liar)
    liar.inject("GET", r"/manifests/", behaviour="delay", delay=3, times=100)
    repo = Repository(liar.host, "lies/app", options(read_timeout=1.0, deadline=2.5, max_retries=10))
    began = time.monotonic()
    with pytest.raises(RegistryError) as info:
        repo.read_manifest(digest)
    took = time.monotonic() - began
    assert took < 3.5, took
    assert liar.host in info.value.diagnostics()
    assert any(line.startswith(f"still waiting for {liar.host}") for line in notes.lines), notes.lines


def test_retry_after_is_waited_for_and_said(liar: LyingRegistry, notes: Notes) -> None:
    digest, data = a_manifest(liar)
    liar.inject("GET", r"/manifests/", 429, headers={"Retry-After": "1"}, times=1)
    repo = Repository(liar.host, "lies/app", options())
    assert repo.read_manifest(digest)[0] == data
    assert f"waiting 1 s for {liar.host} (429, Retry-After); attempt 2 of 4" in notes.lines


def test_a_web_page_instead_of_a_manifest_names_host_path_and_status(liar: LyingRegistry) -> None:
    liar.inject("GET", r"/manifests/", 200, body=b"<html><body>Sign in</body></html>",
                headers={"Content-Type": "text/html; charset=utf-8"})
    repo = Repository(liar.host, "lies/app", options())
    with pytest.raises(RegistryError) as info:
        repo.read_manifest("v1")
    text = info.value.diagnostics()
    assert liar.host in text and "/v2/lies/app/manifests/v1" in text
    assert "HTTP 200" in text and "Sign in" in text


def test_a_web_page_error_names_host_path_and_status(liar: LyingRegistry) -> None:
    liar.inject("GET", r"/manifests/", 502, body=b"<html>Bad gateway</html>",
                headers={"Content-Type": "text/html"}, times=100)
    repo = Repository(liar.host, "lies/app", options())
    with pytest.raises(RegistryError) as info:
        repo.read_manifest("v1")
    text = info.value.diagnostics()
    assert liar.host in text and "/v2/lies/app/manifests/v1" in text and "502" in text


def test_a_referrers_listing_that_fails_is_never_zero_referrers(liar: LyingRegistry) -> None:
    subject = "sha256:" + "c" * 64
    liar.inject("GET", r"/manifests/sha256-", 503, times=100)
    repo = Repository(liar.host, "lies/app", options())
    with pytest.raises(RegistryError, match="503"):
        repo.referrers(subject)


def test_a_referrers_api_probe_that_fails_is_never_no_api(liar: LyingRegistry) -> None:
    liar.inject("GET", r"/referrers/", 500, times=100)
    repo = Repository(liar.host, "lies/app", options())
    with pytest.raises(RegistryError, match="500"):
        repo.referrers("sha256:" + "c" * 64)


def test_a_refused_connection_is_a_registry_error() -> None:
    repo = Repository("127.0.0.1:9", "lies/app", options(max_retries=1))
    with pytest.raises(RegistryError, match=r"cannot reach registry 127\.0\.0\.1:9"):
        repo.read_manifest("v1")


def test_a_token_endpoint_that_stalls_is_a_registry_error() -> None:
    server = LyingRegistry(bearer=True)
    try:
        server.inject("GET", r"^/token", behaviour="stall", times=100)
        login = (HostCredential(server.host, "robot", "pa55-for-tests"),)
        repo = Repository(server.host, "lies/app", options(auth=login))  # type: ignore[arg-type]
        with pytest.raises(RegistryError) as info:
            repo.read_manifest("v1")
        assert server.host in info.value.diagnostics()
    finally:
        server.close()


def test_sigstore_service_calls_without_a_timeout_get_one(liar: LyingRegistry,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """sigstore-python posts to Fulcio and Rekor without a timeout; while sccheck signs they get one."""
    import requests

    from supplychain.signing import keyless

    monkeypatch.setattr(keyless, "SERVICE_TIMEOUT", (0.5, 0.5))
    liar.inject("GET", r"^/v2/$", behaviour="stall", times=10)
    began = time.monotonic()
    with keyless.bounded_service_calls(), pytest.raises(requests.exceptions.ConnectionError):
        requests.Session().get(f"http://{liar.host}/v2/")  # what sigstore-python does: no timeout
    assert time.monotonic() - began < 3
    assert requests.Session.request is keyless._unbounded_request  # restored after the block
