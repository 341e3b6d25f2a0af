"""The one HTTP session sccheck's own clients use (registries, token services, identity tokens).

It differs from a plain `requests.Session` in three ways, all about where secrets go:

- Proxies come from `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), as
  curl and Go read them, but a loopback host (localhost, 127.0.0.0/8, ::1) is never proxied.
- `~/.netrc` is never read: a credential goes only where sccheck's own rules send it
  (`requests` reads netrc whenever it honours the environment; we honour the proxy variables
  without that).
- On a redirect that changes scheme, host or port, the `Authorization` header is dropped, and
  the proxies are chosen again for the new URL.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies

from supplychain.proxyenv import is_loopback_name

USER_AGENT = "sccheck/0.1"


def proxies_for(url: str) -> dict[str, str]:
    """The proxy map for one URL: empty for loopback and for NO_PROXY matches."""
    host = urlsplit(url).hostname or ""
    if not host or is_loopback_name(host):
        return {}
    return {scheme: proxy for scheme, proxy in get_environ_proxies(url).items() if scheme != "no"}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class SafeSession(requests.Session):
    """A requests.Session with the proxy, netrc and redirect rules of this module."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # no netrc, no REQUESTS_CA_BUNDLE: proxies are handled below
        self.headers["User-Agent"] = USER_AGENT

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any,
                                   verify: Any, cert: Any) -> Any:
        target = url.decode() if isinstance(url, bytes) else (url or "")
        wanted = {**proxies_for(target), **(proxies or {})}
        return super().merge_environment_settings(url, wanted, stream, verify, cert)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        before = response.request.url if response.request is not None else None
        after = prepared_request.url
        if before and after and _origin(str(before)) != _origin(str(after)):
            prepared_request.headers.pop("Authorization", None)

    def rebuild_proxies(self, prepared_request: requests.PreparedRequest,
                        proxies: MutableMapping[str, str] | None) -> dict[str, str]:
        chosen: dict[str, str] = super().rebuild_proxies(  # type: ignore[no-untyped-call]
            prepared_request, proxies_for(str(prepared_request.url or "")))
        return chosen


def new_session() -> SafeSession:
    return SafeSession()
