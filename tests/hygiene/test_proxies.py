"""Proxies: HTTP(S)_PROXY and NO_PROXY are honoured, loopback is never proxied, and ~/.netrc never
adds credentials. A recording proxy on loopback carries a name only it can resolve to a real
registry."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from supplychain.httpclient import proxies_for
from supplychain.image.layout import OCILayout
from supplychain.image.reference import parse_image_ref
from supplychain.proxyenv import keep_loopback_off_proxies
from supplychain.registry import RegistryOptions, open_repository
from tests.helpers.proxy import RecordingProxy
from tests.helpers.registries import Registry
from tests.registry.certs import make_ca_and_server_cert
from tests.registry.images import image_manifest
from tests.registry.lying_server import LyingRegistry

PROXY_ONLY = "registry.only-via-proxy.test"
CLEAN = {"HTTP_PROXY": "", "HTTPS_PROXY": "", "ALL_PROXY": "", "NO_PROXY": "", "http_proxy": "",
         "https_proxy": "", "all_proxy": "", "no_proxy": ""}


def via(proxy: RecordingProxy, *names: str, **extra: str) -> dict[str, str]:
    """The environment with `names` (and their lower-case twins, which win when set) pointing
    at the proxy."""
    env = {**CLEAN, **extra}
    for name in names:
        env[name] = env[name.lower()] = proxy.url
    return env


@pytest.fixture
def proxy(registry: Registry) -> Iterator[RecordingProxy]:
    server = RecordingProxy({PROXY_ONLY: registry.host})
    yield server
    server.close()


@pytest.fixture
def layout(tmp_path: Path) -> tuple[str, str]:
    store = OCILayout(tmp_path / "src", create=True)
    return f"oci:{tmp_path / 'src'}:v1", image_manifest(store, tag="v1").digest


def test_a_remote_registry_goes_through_the_proxy(sccheck, proxy: RecordingProxy, registry: Registry,
                                                  layout: tuple[str, str]) -> None:
    src, digest = layout
    repo = f"proxied/app-{uuid.uuid4().hex[:8]}"
    proc = sccheck("--json", "copy", src, f"{PROXY_ONLY}/{repo}:v1", "--insecure", "--retries", "0",
                   env=via(proxy, "HTTP_PROXY"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["digest"] == digest
    assert proxy.seen and all(url.startswith(f"http://{PROXY_ONLY}/") for _, url in proxy.seen)
    assert ("PUT", f"http://{PROXY_ONLY}/v2/{repo}/manifests/v1") in proxy.seen
    direct = open_repository(parse_image_ref(registry.ref(repo)), RegistryOptions())
    assert direct.resolve("v1").digest == digest  # it really landed, through the proxy


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_loopback_is_never_proxied(sccheck, proxy: RecordingProxy, registry: Registry, name: str,
                                   layout: tuple[str, str]) -> None:
    src, digest = layout
    dst = registry.ref(f"direct/app-{uuid.uuid4().hex[:8]}", "v1").replace("127.0.0.1", name)
    proc = sccheck("--json", "copy", src, dst, "--retries", "0",
                   env=via(proxy, "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["digest"] == digest
    assert proxy.seen == []


def test_no_proxy_sends_a_host_direct(sccheck, proxy: RecordingProxy, layout: tuple[str, str]) -> None:
    src, _ = layout
    proc = sccheck("--json", "copy", src, f"{PROXY_ONLY}/x/app:v1", "--insecure", "--retries", "0",
                   env=via(proxy, "HTTP_PROXY", NO_PROXY=".only-via-proxy.test",
                           no_proxy=".only-via-proxy.test"))
    assert proc.returncode == 3, proc.stderr   # direct, the name does not resolve: cannot reach it
    assert json.loads(proc.stdout)["kind"] == "registry error"
    assert proxy.seen == []


def test_proxy_choice_and_loopback_no_proxy(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp")
    assert proxies_for("https://ghcr.io/v2/") == {"https": "http://proxy.corp:3128"}
    assert proxies_for("https://registry.internal.corp/v2/") == {}
    assert proxies_for("http://127.0.0.1:5000/v2/") == proxies_for("http://[::1]:5000/v2/") == {}
    assert proxies_for("http://localhost:5000/v2/") == {}
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "internal.corp"}
    keep_loopback_off_proxies(env)
    assert env["NO_PROXY"] == "internal.corp,localhost,127.0.0.0/8,::1" == env["no_proxy"]
    untouched = {"PATH": "/bin"}
    keep_loopback_off_proxies(untouched)
    assert untouched == {"PATH": "/bin"}


def test_netrc_never_adds_credentials(sccheck, tmp_path: Path, layout: tuple[str, str]) -> None:
    server = LyingRegistry()
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH"):
        server.inject(method, r".*", 401, times=1000, headers={"WWW-Authenticate": 'Basic realm="n"'})
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password\n"
                     "default login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    (tmp_path / ".netrc").write_bytes(netrc.read_bytes())
    (tmp_path / ".netrc").chmod(0o600)
    try:
        src, _ = layout
        proc = sccheck("--json", "copy", src, f"{server.host}/n/app:v1", "--retries", "0",
                       env={**CLEAN, "HOME": str(tmp_path), "NETRC": str(netrc),
                            "DOCKER_CONFIG": str(tmp_path / "none")})
        assert proc.returncode == 3, proc.stderr
        assert server.requests
        assert [s.path for s in server.requests if "Authorization" in s.headers] == []
    finally:
        server.close()


def test_an_https_registry_is_reached_through_a_connect_tunnel(sccheck, tmp_path: Path,
                                                               layout: tuple[str, str]) -> None:
    """HTTPS_PROXY: a TLS registry known only to the proxy, with credentials for it. The proxy
    sees the CONNECT and nothing else: no credential, no path."""
    ca, cert, key = make_ca_and_server_cert(tmp_path / "tls", "proxied", dns_names=(PROXY_ONLY,))
    server = LyingRegistry(bearer=True, tls=(str(cert), str(key)))
    tunnel = RecordingProxy({PROXY_ONLY: server.host})
    try:
        src, digest = layout
        proc = sccheck("--json", "copy", src, f"{PROXY_ONLY}/tls/app:v1", "--ca-file", str(ca),
                       "--retries", "0", "--auth", f"{PROXY_ONLY}={server.user}", "--password-stdin",
                       input=server.password + "\n",
                       env={**via(tunnel, "HTTPS_PROXY"), "DOCKER_CONFIG": str(tmp_path / "none")})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["digest"] == digest
        assert set(tunnel.seen) == {("CONNECT", f"{PROXY_ONLY}:443")}
        sent = {name.lower() for headers in tunnel.headers_seen for name in headers}
        assert not sent & {"authorization", "proxy-authorization"}
        assert server.tokens_issued and server.count("PUT", r"/v2/tls/app/manifests/v1$") == 1
    finally:
        tunnel.close()
        server.close()


def test_docker_hub_as_docker_login_left_it(sccheck, auth_registry: Registry, tmp_path: Path,
                                            layout: tuple[str, str]) -> None:
    """`docker.io/x` is Docker Hub's `library/x`, spoken to at registry-1.docker.io, with the
    credentials `docker login` saved under https://index.docker.io/v1/. Docker Hub is played by
    the htpasswd registry behind the proxy (plain HTTP here, hence --insecure)."""
    hub = RecordingProxy({"registry-1.docker.io": auth_registry.host})
    name = f"hubtest{uuid.uuid4().hex[:8]}"
    token = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode()).decode()
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps(
        {"auths": {"https://index.docker.io/v1/": {"auth": token}, "ghcr.io": {"auth": "Z2g6cGFzcw=="}}}))
    try:
        src, digest = layout
        proc = sccheck("--json", "copy", src, f"docker.io/{name}:v1", "--insecure", "--retries", "0",
                       env={**via(hub, "HTTP_PROXY"), "DOCKER_CONFIG": str(tmp_path / "docker")})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["reference"] == f"docker.io/library/{name}@{digest}"
        assert ("PUT", f"http://registry-1.docker.io/v2/library/{name}/manifests/v1") in hub.seen
        assert {urlsplit(url).hostname for _, url in hub.seen} == {"registry-1.docker.io"}
        landed = open_repository(parse_image_ref(auth_registry.ref(f"library/{name}")),
                                 RegistryOptions(auth=(auth_registry.credential(),)))
        assert landed.resolve("v1").digest == digest
    finally:
        hub.close()
