"""Real registries for tests: Debian's distribution 2.8 (no referrers API, optional htpasswd
auth) and go-containerregistry's in-memory registry with the OCI 1.1 referrers API switched on
(tools/referrers-registry)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import yaml

from supplychain.registry.options import HostCredential
from supplychain.tools import find_tool
from tests.helpers.procs import Service, free_port, http_ok


@dataclass
class Registry:
    kind: str              # "distribution" | "referrers"
    host: str              # "127.0.0.1:PORT"
    service: Service
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def referrers_api(self) -> bool:
        return self.kind == "referrers"

    def ref(self, repo: str, tag: str | None = None) -> str:
        return f"{self.host}/{repo}" + (f":{tag}" if tag else "")

    def credential(self, password: str | None = None) -> HostCredential:
        """This registry's user (and its password, or `password`), bound to this host."""
        assert self.username and self.password is not None, "an anonymous registry"
        return HostCredential(self.host, self.username, self.password if password is None else password)


def start_distribution(work: Path, *, auth: bool = False) -> Registry:
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    port = free_port()
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "info"},
        "storage": {"filesystem": {"rootdirectory": str(work / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "sccheck-test-only"},
    }
    user = password = None
    if auth:
        user, password = "sccheck", "s3cret-for-tests"
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        (work / "htpasswd").write_text(f"{user}:{hashed}\n")
        config["auth"] = {"htpasswd": {"realm": "sccheck-test", "path": str(work / "htpasswd")}}
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yml").write_text(yaml.safe_dump(config))
    name = "distribution-auth" if auth else "distribution"
    svc = Service(name, [binary, "serve", str(work / "config.yml")], work)
    svc.wait_ready(http_ok(f"http://127.0.0.1:{port}/v2/"))
    return Registry("distribution", f"127.0.0.1:{port}", svc, user, password)


def start_referrers_registry(work: Path) -> Registry:
    binary = find_tool("referrers-registry")
    assert binary
    port = free_port()
    svc = Service("referrers-registry", [binary, "-port", str(port)], work)
    svc.wait_ready(http_ok(f"http://127.0.0.1:{port}/v2/"))
    return Registry("referrers", f"127.0.0.1:{port}", svc)
