"""How to reach registries: TLS, credentials, retries, timeouts and the caps on what we read."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

ENV_USERNAME = "SCCHECK_REGISTRY_USERNAME"
ENV_PASSWORD = "SCCHECK_REGISTRY_PASSWORD"  # noqa: S105 - the name of a variable, not a secret
REFERRERS_MODES = ("auto", "api", "tag", "both")


@dataclass(frozen=True)
class RegistryOptions:
    """Settings shared by every repository a command opens.

    Credentials: `username`/`password` here win, then the environment
    (SCCHECK_REGISTRY_USERNAME / SCCHECK_REGISTRY_PASSWORD), then the Docker config file
    (`docker_config`, default $DOCKER_CONFIG/config.json or ~/.docker/config.json) with its
    credential helpers. Plain HTTP is used for loopback hosts only, unless `insecure`.
    """

    insecure: bool = False
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
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

    def credentials_from_flags_or_env(self) -> tuple[str, str] | None:
        user = self.username if self.username is not None else os.environ.get(ENV_USERNAME)
        password = self.password if self.password is not None else os.environ.get(ENV_PASSWORD)
        if user and password is not None:
            return user, password
        return None

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
