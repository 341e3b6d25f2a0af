"""`up`, `down`, `status`, `env` and `token` of the dev-stack: the library side of the CLI."""

from __future__ import annotations

import datetime as dt
import shlex
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3

from supplychain.devstack import registry, services
from supplychain.devstack.keys import KeyPaths, ensure_keys
from supplychain.devstack.oidc import DEFAULT_AUDIENCE, DEFAULT_IDENTITY, GITHUB_PATH
from supplychain.devstack.services import Ports
from supplychain.devstack.state import StateDir
from supplychain.devstack.trustconfig import write_fulcio_config, write_trust_config
from supplychain.errors import DevStackError
from supplychain.httpclient import new_session
from supplychain.progress import Progress, SilentProgress

CT_ORIGIN = "sccheck-dev-stack-ct"
MAX_TOKEN_BYTES = 64 * 1024


@dataclass(frozen=True)
class StackInfo:
    """Where a running (or configured) dev-stack is and how to talk to it."""

    dir: str
    trust_config: str
    trusted_root: str
    urls: dict[str, str]
    issuer: str
    identity: str
    github_issuer: str
    token_url: str
    github_token_url: str
    actions_token_request_url: str
    running: dict[str, int] = field(default_factory=dict)
    registry: str | None = None               # host:port of the optional registry, when it runs
    already_running: bool = False
    tsa_isolated: bool = False
    created_keys: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _info(state: StateDir, ports: Ports, **extra: Any) -> StackInfo:
    oidc = ports.url("oidc")
    extra.setdefault("tsa_isolated", bool(state.read_stack().get("tsa_isolated")))
    reg_port = registry.registry_port(state)
    if reg_port and "registry" in extra.get("running", {}):
        extra.setdefault("registry", f"{services.HOST}:{reg_port}")
    return StackInfo(
        dir=str(state.root), trust_config=str(state.trust_config), trusted_root=str(state.trusted_root),
        urls={"fulcio": ports.url("fulcio"), "rekor": ports.url("rekor"), "ct": ports.url("ct"),
              "tsa": ports.url("tsa"), "oidc": oidc},
        issuer=oidc, identity=DEFAULT_IDENTITY, github_issuer=oidc + GITHUB_PATH,
        token_url=f"{oidc}/token", github_token_url=f"{oidc}{GITHUB_PATH}/token",
        actions_token_request_url=f"{oidc}{GITHUB_PATH}/actions-token?api-version=2.0", **extra)


def _saved_ports(state: StateDir) -> Ports:
    saved = state.read_stack().get("ports")
    if not isinstance(saved, dict) or set(saved) != set(services.PORT_NAMES):
        raise DevStackError(
            "the dev-stack has never been started in this directory",
            expected=f"a stack made by 'sccheck dev-stack up --dir {state.root}'",
            found=f"no usable {state.stack_file}", fix="run 'sccheck dev-stack up' first")
    return Ports({k: int(v) for k, v in saved.items()})


def _created(state: StateDir) -> dt.datetime:
    raw = state.read_stack().get("created")
    if isinstance(raw, str):
        return dt.datetime.fromisoformat(raw)
    # validity starts a little before now: sigstore clients need validFor.start in the past
    return dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)


def up(directory: Path | str | None = None, *, progress: Progress | None = None,
       timeout: float = 30.0, with_registry: bool = False) -> StackInfo:
    """Start the stack (idempotent): keys once, then every server, then the trust config;
    with `with_registry`, also a local OCI registry (`docker-registry`)."""
    info = _up(directory, progress=progress, timeout=timeout)
    if not with_registry:
        return info
    state = StateDir.at(directory)
    (progress or SilentProgress()).step("registry", "docker-registry")
    port = registry.ensure_registry(state, timeout)
    (progress or SilentProgress()).done("registry", f"{services.HOST}:{port}")
    return _info(state, _saved_ports(state), running=services.running(state),
                 already_running=info.already_running, created_keys=info.created_keys, seconds=info.seconds)


def _up(directory: Path | str | None = None, *, progress: Progress | None = None,
        timeout: float = 30.0) -> StackInfo:
    progress = progress or SilentProgress()
    began = time.monotonic()
    state = StateDir.at(directory)
    state.ensure()
    alive = {k: v for k, v in services.running(state).items() if k != registry.NAME}
    if alive:
        ports = _saved_ports(state)
        specs = services.server_specs(state, KeyPaths.of(state), ports, CT_ORIGIN,
                                      isolate_tsa=bool(state.read_stack().get("tsa_isolated")))
        if set(alive) == {s.name for s in specs} and all(services.probe(s.ready_url) for s in specs):
            return _info(state, ports, running=alive, already_running=True)
        progress.info(f"restarting a partly running stack ({', '.join(sorted(alive))} alive)")
        services.stop_all(state, keep=(registry.NAME,))
    progress.step("keys", str(state.keys))
    keys, created_keys = ensure_keys(state)
    progress.done("keys", "created" if created_keys else "reused")
    created = _created(state)
    ports = services.allocate_ports(state.read_stack().get("ports") or {})
    isolate = services.tsa_isolation_available(state)
    if isolate:
        services.tsa_socket(state).unlink(missing_ok=True)
    else:
        services.check_tsa_metrics_port()
    kept = {k: v for k, v in state.read_stack().items() if k == registry.PORT_KEY}
    state.write_stack({"ports": ports.values, "created": created.isoformat(), "ct_origin": CT_ORIGIN,
                       "tsa_isolated": isolate, **kept})
    write_fulcio_config(state, ports)
    write_trust_config(state, keys, ports, created)
    specs = services.server_specs(state, keys, ports, CT_ORIGIN, isolate_tsa=isolate)
    progress.step("servers", ", ".join(s.name for s in specs))
    pids = services.start_all(state, specs, timeout, on_ready=lambda n: progress.info(f"{n} ready"))
    progress.done("servers")
    return _info(state, ports, running=pids, created_keys=created_keys,
                 seconds=round(time.monotonic() - began, 2))


def down(directory: Path | str | None = None) -> list[str]:
    """Stop the stack's servers; keys, logs and data stay for the next `up`."""
    return services.stop_all(StateDir.at(directory))


def status(directory: Path | str | None = None) -> StackInfo:
    state = StateDir.at(directory)
    return _info(state, _saved_ports(state), running=services.running(state))


def env_values(info: StackInfo) -> dict[str, str]:
    """The variables that point sccheck (and cosign users) at this stack."""
    values = {
        "SCCHECK_DEV_STACK_DIR": info.dir,
        "SCCHECK_TRUST_CONFIG": info.trust_config,
        "SCCHECK_TRUSTED_ROOT": info.trusted_root,
        "SCCHECK_DEV_ISSUER": info.issuer,
        "SCCHECK_DEV_IDENTITY": info.identity,
        "SCCHECK_DEV_TOKEN_URL": info.token_url,
        "SCCHECK_DEV_GITHUB_ISSUER": info.github_issuer,
    }
    if info.registry:
        values["SCCHECK_DEV_REGISTRY"] = info.registry
    return values


def env_lines(info: StackInfo) -> list[str]:
    return [f"export {k}={shlex.quote(v)}" for k, v in env_values(info).items()]


def fetch_token(url: str, claims: Mapping[str, str] | None = None, *, timeout: float = 10.0) -> str:
    """GET a fresh token from a dev-stack token URL (`SCCHECK_DEV_TOKEN_URL`); never logged."""
    query = urlencode(dict(claims or {}))
    full = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
    try:
        resp = new_session().get(full, timeout=timeout, stream=True)
        body = resp.raw.read(MAX_TOKEN_BYTES + 1, decode_content=True)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise DevStackError("the dev-stack's OIDC issuer cannot be reached",
                            expected=f"a token from {url}", found=str(exc),
                            fix="run 'sccheck dev-stack up'") from exc
    if resp.status_code != 200 or len(body) > MAX_TOKEN_BYTES:
        raise DevStackError("the dev-stack's OIDC issuer refused to mint a token",
                            expected="HTTP 200 with a JWT", found=f"HTTP {resp.status_code}: "
                            f"{body[:300].decode(errors='replace')}",
                            fix="check the claim names and values (ttl is 1..3600 seconds)")
    return body.decode().strip()


def token(directory: Path | str | None = None, *, github: bool = False,
          claims: Mapping[str, str] | None = None) -> str:
    info = status(directory)
    if "oidc" not in info.running:
        raise DevStackError("the dev-stack's OIDC issuer is not running",
                            expected=f"a running stack in {info.dir}", found="no issuer process",
                            fix="run 'sccheck dev-stack up'")
    return fetch_token(info.github_token_url if github else info.token_url, claims)


__all__ = ["DEFAULT_AUDIENCE", "StackInfo", "down", "env_lines", "fetch_token", "status", "token", "up"]
