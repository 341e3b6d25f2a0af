"""The proxy variables as sccheck reads them, without the HTTP client (every command runs this
at start-up; only commands that talk to a registry or a service load `requests`)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import MutableMapping

_PROXY_VARS = ("https_proxy", "http_proxy", "all_proxy")
LOOPBACK_NO_PROXY = ("localhost", "127.0.0.0/8", "::1")


def is_loopback_name(name: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: a host name without port or brackets."""
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def keep_loopback_off_proxies(environ: MutableMapping[str, str] | None = None) -> None:
    """When a proxy variable is set, add the loopback names to NO_PROXY/no_proxy, so that
    libraries with their own HTTP clients (the Sigstore client) and child processes do not
    send loopback traffic (the dev stack, a local registry) to the proxy either."""
    env = os.environ if environ is None else environ
    if not any(env.get(name) or env.get(name.upper()) for name in _PROXY_VARS):
        return
    entries: list[str] = []
    for name in ("no_proxy", "NO_PROXY"):  # both spellings, merged: the lower-case one wins if set
        entries += [p.strip() for p in env.get(name, "").split(",") if p.strip()]
    merged = ",".join(dict.fromkeys([*entries, *LOOPBACK_NO_PROXY]))
    env["NO_PROXY"] = env["no_proxy"] = merged
