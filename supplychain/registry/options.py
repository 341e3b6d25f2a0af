"""How to reach registries: TLS, credentials, retries, timeouts and the caps on what we read."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from supplychain.errors import UsageError
from supplychain.image.reference import is_docker_hub

ENV_HOST = "SCCHECK_REGISTRY_HOST"
ENV_USERNAME = "SCCHECK_REGISTRY_USERNAME"
ENV_PASSWORD = "SCCHECK_REGISTRY_PASSWORD"  # noqa: S105 - the name of a variable, not a secret
REFERRERS_MODES = ("auto", "api", "tag", "both")


def registry_key(host: str) -> str:
    """The one spelling of a registry host that credentials are bound to: lower case, the port
    kept, a scheme or path dropped (Docker config keys may be URLs); Docker Hub's names
    (docker.io, index.docker.io, registry-1.docker.io) are all `docker.io`."""
    host = host.strip()
    if "://" in host:
        host = urlsplit(host).netloc
    host = host.split("/", 1)[0].lower()
    return "docker.io" if is_docker_hub(host) else host


@dataclass(frozen=True)
class HostCredential:
    """A user name and password for exactly one registry host (`host:port` where not 443)."""

    host: str
    username: str
    password: str = field(repr=False)

    def for_host(self, host: str) -> bool:
        return registry_key(self.host) == registry_key(host)


def env_credential(environ: dict[str, str] | None = None) -> HostCredential | None:
    """SCCHECK_REGISTRY_HOST + SCCHECK_REGISTRY_USERNAME + SCCHECK_REGISTRY_PASSWORD, all three or
    none: a user name or password without the host it is for is refused, never sent anywhere."""
    env = dict(os.environ) if environ is None else environ
    host, user, password = env.get(ENV_HOST, ""), env.get(ENV_USERNAME, ""), env.get(ENV_PASSWORD)
    if not (user or password):
        return None
    if not host or not user or password is None:
        missing = [name for name, absent in ((ENV_HOST, not host), (ENV_USERNAME, not user),
                                             (ENV_PASSWORD, password is None)) if absent]
        raise UsageError(
            "registry credentials in the environment are incomplete",
            expected=f"{ENV_HOST} (the registry they are for), {ENV_USERNAME} and {ENV_PASSWORD}",
            found="no " + ", ".join(missing),
            fix=f"set {ENV_HOST}=HOST[:PORT] so the credentials go to that registry only, "
                "or use --auth HOST=USER or docker login")
    return HostCredential(host, user, password)


@dataclass(frozen=True)
class RegistryOptions:
    """Settings shared by every repository a command opens.

    Credentials are bound to one registry host each and go to no other host: `auth` (the
    --auth flags) wins, then the environment (SCCHECK_REGISTRY_HOST with
    SCCHECK_REGISTRY_USERNAME / SCCHECK_REGISTRY_PASSWORD), then the Docker config file
    (`docker_config`, default $DOCKER_CONFIG/config.json or ~/.docker/config.json) with its
    credential helpers. Plain HTTP is used for loopback hosts only, unless `insecure`.
    """

    insecure: bool = False
    ca_file: str | None = None
    auth: tuple[HostCredential, ...] = ()
    docker_config: str | None = None
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 10.0
    retry_after_max: float = 60.0
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # the longest silence while waiting for headers or the next bytes
    deadline: float = 120.0  # one operation, every attempt and wait included
    max_workers: int = 4
    chunk_size: int = 8 << 20
    monolithic_max: int = 32 << 20
    max_manifest_bytes: int = 4 << 20
    max_referrers: int = 1000
    max_tags: int = 100_000
    max_pages: int = 1000
    page_size: int = 1000
    # Where referrers (signatures, attestations) are listed when written: "api" (the registry's
    # OCI 1.1 referrers API only), "tag" (the `sha256-<hex>` fallback index), "both", or "auto"
    # (the API where the registry has it, else the fallback index). See docs/registry.md.
    referrers_mode: str = "auto"

    def __post_init__(self) -> None:
        if self.referrers_mode not in REFERRERS_MODES:
            raise ValueError(f"referrers_mode must be one of {', '.join(REFERRERS_MODES)}, "
                             f"not {self.referrers_mode!r}")

    def credentials_for(self, host: str) -> HostCredential | None:
        """The flag or environment credential for `host`, or None (then the Docker config)."""
        for cred in self.auth:
            if cred.for_host(host):
                return cred
        env = env_credential()
        return env if env is not None and env.for_host(host) else None

    def docker_config_path(self) -> str:
        if self.docker_config:
            return self.docker_config
        base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
        return os.path.join(base, "config.json")


def split_host_port(host: str) -> tuple[str, str | None]:
    """'[::1]:5000' -> ('::1', '5000'); 'localhost:5000' -> ('localhost', '5000')."""
    if host.startswith("["):
        end = host.find("]")
        name = host[1:end]
        rest = host[end + 1:]
        return name, rest[1:] if rest.startswith(":") else None
    if host.count(":") == 1:
        name, port = host.split(":")
        return name, port
    return host, None


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1 (with or without a port): the only hosts where plain HTTP
    is used without --insecure."""
    name, _ = split_host_port(host)
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
