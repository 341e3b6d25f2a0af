"""Credentials are bound to one registry host: never sent to another registry, nor to a host a
registry redirects to, nor to a token service another host names; bearer tokens carry only the
scopes asked for. A real htpasswd registry (A) and recording servers that ask for credentials (B)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

from supplychain.errors import RegistryError
from supplychain.image.descriptor import Descriptor, MediaType
from supplychain.image.reference import parse_image_ref
from supplychain.registry import RegistryOptions, open_repository
from supplychain.registry.options import HostCredential
from supplychain.registry.repository import Repository
from tests.helpers.registries import Registry
from tests.registry.images import image_manifest
from tests.registry.lying_server import LyingRegistry

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH")


def _asks_for_basic() -> LyingRegistry:
    """B: answers every request 401 with a Basic challenge, and records what it was sent."""
    server = LyingRegistry()
    for method in METHODS:
        server.inject(method, r".*", 401, times=10_000, headers={"WWW-Authenticate": 'Basic realm="b"'},
                      body=b'{"errors":[{"code":"UNAUTHORIZED","message":"login"}]}')
    return server


def _received_secrets(server: LyingRegistry, *secrets: str) -> list[str]:
    found = []
    for seen in server.requests:
        for name, value in seen.headers.items():
            if name.lower() in ("authorization", "proxy-authorization") or any(s in value for s in secrets):
                found.append(f"{seen.method} {seen.path}: {name}")
    return found


@pytest.fixture
def source_image(auth_registry: Registry) -> str:
    ref = auth_registry.ref(f"scope/src-{uuid.uuid4().hex[:8]}", "v1")
    repo = open_repository(parse_image_ref(ref), RegistryOptions(auth=(auth_registry.credential(),)))
    image_manifest(repo, tag="v1")
    return ref


@pytest.mark.parametrize("how", ["--auth", "environment", "docker-config"])
@pytest.mark.parametrize("challenge", ["basic", "bearer"])
def test_copy_a_to_b_gives_b_nothing_of_a(sccheck, auth_registry: Registry, source_image: str,
                                          tmp_path: Path, how: str, challenge: str) -> None:
    b = _asks_for_basic() if challenge == "basic" else LyingRegistry(bearer=True)
    try:
        user, password = auth_registry.username or "", auth_registry.password or ""
        env = {"DOCKER_CONFIG": str(tmp_path / "none"), "SCCHECK_REGISTRY_USERNAME": "",
               "SCCHECK_REGISTRY_PASSWORD": ""}
        args: list[str] = []
        stdin = None
        if how == "--auth":
            args, stdin = ["--auth", f"{auth_registry.host}={user}", "--password-stdin"], password + "\n"
        elif how == "environment":
            env.update(SCCHECK_REGISTRY_HOST=auth_registry.host, SCCHECK_REGISTRY_USERNAME=user,
                       SCCHECK_REGISTRY_PASSWORD=password)
        else:
            (tmp_path / "cfg").mkdir()
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            config = {"auths": {auth_registry.host: {"auth": token}}}
            (tmp_path / "cfg" / "config.json").write_text(json.dumps(config))
            env["DOCKER_CONFIG"] = str(tmp_path / "cfg")
        proc = sccheck("--json", "copy", source_image, f"{b.host}/stolen/app:v1", "--retries", "0", *args,
                       input=stdin, env=env)
        assert proc.returncode == 3, proc.stderr          # B wanted credentials; it got none
        assert json.loads(proc.stdout)["kind"] == "registry error"
        assert b.requests, "B was never contacted"
        assert _received_secrets(b, password, base64.b64encode(f"{user}:{password}".encode()).decode()) == []
        assert password not in proc.stdout + proc.stderr
        if challenge == "bearer":  # its token service was asked anonymously, and refused
            assert b.count("GET", r"^/token") >= 1 and b.tokens_issued == []
    finally:
        b.close()


def test_the_same_credentials_reach_a_when_named_for_it(sccheck, auth_registry: Registry, source_image: str,
                                                        tmp_path: Path) -> None:
    """The control for the test above: A's credentials do work for A (and only A's host)."""
    user, password = auth_registry.username or "", auth_registry.password or ""
    dst = auth_registry.ref(f"scope/dst-{uuid.uuid4().hex[:8]}", "v1")
    pw = tmp_path / "pw"
    pw.write_text(password + "\n")
    env = {"DOCKER_CONFIG": str(tmp_path / "none")}
    ok = sccheck("--json", "copy", source_image, dst, "--auth", f"{auth_registry.host}={user}",
                 "--password-file", f"{auth_registry.host}={pw}", env=env)
    assert ok.returncode == 0, ok.stderr
    other_name = auth_registry.host.replace("127.0.0.1", "localhost")  # same server, another name
    refused = sccheck("copy", source_image.replace("127.0.0.1", "localhost"), dst, "--retries", "0",
                      "--auth", f"{auth_registry.host}={user}", "--password-stdin", input=password + "\n",
                      env=env)
    assert refused.returncode == 3 and "HTTP 401" in refused.stderr and other_name in refused.stderr


def _redirecting_pair(blob: bytes, *, login: bool = True) -> tuple[LyingRegistry, LyingRegistry, str]:
    registry, storage = LyingRegistry(bearer=True), LyingRegistry()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    registry.blobs[digest] = blob
    if login:
        registry.inject("GET", rf"/blobs/{digest}$", 401, times=1, headers={  # first: log in
            "WWW-Authenticate": f'Bearer realm="http://{registry.host}/token",service="lying"'})
    registry.inject("GET", rf"/blobs/{digest}$", 307, times=10,
                    headers={"Location": f"http://{storage.host}/storage/{digest[7:]}?sig=1"})
    return registry, storage, digest


def test_a_redirect_to_another_host_carries_no_credentials() -> None:
    blob = os.urandom(3000)
    registry, storage, digest = _redirecting_pair(blob)
    storage.inject("GET", r"^/storage/", 200, times=10, body=blob)
    try:
        repo = Repository(registry.host, "team/app", RegistryOptions(
            auth=(HostCredential(registry.host, registry.user, registry.password),), backoff_base=0.001))
        assert repo.read_blob(Descriptor(MediaType.OCI_LAYER, digest, len(blob))) == blob
        assert registry.tokens_issued and registry.count("GET", r"/blobs/") == 2
        assert registry.requests[-1].headers.get("Authorization") == f"Bearer {registry.tokens_issued[0]}"
        assert storage.count("GET", r"^/storage/") == 1
        assert _received_secrets(storage, registry.password, *registry.tokens_issued) == []
    finally:
        registry.close()
        storage.close()


def test_a_challenge_from_the_redirect_target_is_not_answered() -> None:
    """The storage host asks for a bearer token from its own token service: the registry's
    credentials must not go there (the registry itself has not asked for any yet)."""
    blob = os.urandom(100)
    registry, storage, digest = _redirecting_pair(blob, login=False)
    storage.inject("GET", r"^/storage/", 401, times=10,
                   headers={"WWW-Authenticate": f'Bearer realm="http://{storage.host}/token",service="s"'})
    try:
        repo = Repository(registry.host, "team/app", RegistryOptions(
            auth=(HostCredential(registry.host, registry.user, registry.password),), max_retries=0))
        with pytest.raises(RegistryError) as info:
            repo.read_blob(Descriptor(MediaType.OCI_LAYER, digest, len(blob)))
        assert info.value.facts["status"] == 401
        assert storage.count("GET", r"^/token") == 0
        assert _received_secrets(storage, registry.password, *registry.tokens_issued) == []
    finally:
        registry.close()
        storage.close()


def test_a_challenge_cannot_widen_the_token_scope() -> None:
    server = LyingRegistry(bearer=True)
    wide = 'repository:team/app:pull,push,delete repository:other/secret:pull,push'
    server.inject("GET", r"/manifests/v1$", 401, times=1, headers={
        "WWW-Authenticate": f'Bearer realm="http://{server.host}/token",service="lying",scope="{wide}"'})
    try:
        data = json.dumps({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                           "config": {"mediaType": MediaType.OCI_CONFIG, "digest": "sha256:" + "0" * 64,
                                      "size": 2}, "layers": []}).encode()
        server.put_manifest("v1", data, MediaType.OCI_MANIFEST)
        repo = Repository(server.host, "team/app", RegistryOptions(
            auth=(HostCredential(server.host, server.user, server.password),), backoff_base=0.001))
        assert repo.read_manifest("v1")[0] == data
        assert server.token_scopes == [["repository:team/app:pull"]]
    finally:
        server.close()
