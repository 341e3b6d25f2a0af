"""Registry credentials and the auth flows: Basic, and the Bearer token flow.

Every credential is bound to one registry host. For a host they come, in order, from the
options (--auth flags), the environment (SCCHECK_REGISTRY_HOST/USERNAME/PASSWORD), and the
Docker config file (`auths`, `credHelpers`, `credsStore`: credential helpers run as
`docker-credential-<helper> get`). Secrets never appear in reprs, errors or logs.
"""

from __future__ import annotations

import base64
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from supplychain.errors import RegistryError
from supplychain.image.reference import credential_key
from supplychain.registry.options import RegistryOptions, is_loopback, registry_key
from supplychain.strictdoc import load_json
from supplychain.tools import child_env

_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
MAX_TOKEN_RESPONSE = 1 << 20
DEFAULT_TOKEN_LIFETIME = 60.0


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" | "bearer" | other, lowercased
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenge(header: str) -> Challenge | None:
    """Parse one `WWW-Authenticate` value: `Bearer realm="...",service="...",scope="..."`."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if not match or match.end() == pos:
            break
        value = match.group(2)
        value = re.sub(r"\\(.)", r"\1", value) if value is not None else (match.group(3) or "")
        params[match.group(1).lower()] = value
        pos = match.end()
    return Challenge(scheme.lower(), params)


def _run_helper(helper: str, host: str) -> Credentials | None:
    if not _HELPER_NAME.match(helper):
        raise RegistryError(f"invalid credential helper name {helper!r} in the Docker config",
                            expected="a name like 'pass' or 'ecr-login'")
    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([program, "get"], input=host, capture_output=True, text=True,
                              timeout=30, check=False, env=child_env())
    except FileNotFoundError:
        raise RegistryError(
            f"the Docker config names the credential helper {program!r} for {host}, "
            "but it is not installed",
            fix=f"install {program}, or remove it from the Docker config, or pass --auth HOST=USER",
        ) from None
    except subprocess.TimeoutExpired:
        raise RegistryError(f"credential helper {program} did not answer within 30s for {host}") from None
    if proc.returncode != 0:
        if "not found" in (proc.stdout + proc.stderr).lower():
            return None
        raise RegistryError(f"credential helper {program} failed for {host}",
                            facts={"exit code": proc.returncode, "stderr": proc.stderr[-500:]})
    try:
        doc = load_json(proc.stdout, program, error=RegistryError)
        user, secret = str(doc.get("Username", "")), str(doc.get("Secret", ""))
    except (ValueError, AttributeError):
        raise RegistryError(f"credential helper {program} printed something that is not JSON") from None
    if user == "<token>":
        return Credentials(username="", identity_token=secret)
    return Credentials(username=user, password=secret) if user else None


def docker_config_credentials(path: str, host: str) -> Credentials | None:
    """Credentials for `host` from a Docker config.json, or None. Keys are compared as registry
    hosts (`registry_key`), so `docker login`'s `https://index.docker.io/v1/` is Docker Hub's;
    a helper is asked for the key `docker login` stored under."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(4 << 20)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RegistryError(f"cannot read the Docker config {path}: {exc.strerror}") from None
    try:
        doc: Any = load_json(raw, path, error=RegistryError)
    except ValueError:
        raise RegistryError(f"the Docker config {path} is not valid JSON",
                            fix="repair it or point --docker-config elsewhere") from None
    if not isinstance(doc, dict):
        return None
    wanted = registry_key(host)
    server = credential_key(wanted)  # what docker login passes to a credential helper
    helpers = doc.get("credHelpers") or {}
    if isinstance(helpers, dict):
        for key, helper in helpers.items():
            if registry_key(key) == wanted and isinstance(helper, str):
                return _run_helper(helper, server)
    auths = doc.get("auths") or {}
    if isinstance(auths, dict):
        for key, entry in auths.items():
            if registry_key(key) != wanted or not isinstance(entry, dict):
                continue
            if entry.get("identitytoken"):
                return Credentials(username=str(entry.get("username", "")),
                                   identity_token=str(entry["identitytoken"]))
            if entry.get("auth"):
                try:
                    decoded = base64.b64decode(entry["auth"]).decode()
                except (ValueError, UnicodeDecodeError):
                    raise RegistryError(f"the 'auth' entry for {host} in {path} is not base64 "
                                        "of user:password") from None
                user, _, password = decoded.partition(":")
                return Credentials(user, password)
            if entry.get("username"):
                return Credentials(str(entry["username"]), str(entry.get("password", "")))
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        return _run_helper(store, server)
    return None


def find_credentials(options: RegistryOptions, host: str) -> Credentials | None:
    """The credentials bound to `host` (flags, then environment, then Docker config), or None."""
    bound = options.credentials_for(host)
    if bound is not None:
        return Credentials(bound.username, bound.password)
    return docker_config_credentials(options.docker_config_path(), host)


class TokenCache:
    """Bearer tokens per set of scopes, reused until shortly before they expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    def get(self, scopes: tuple[str, ...]) -> str | None:
        with self._lock:
            hit = self._tokens.get(scopes)
            if hit and hit[1] > time.monotonic():
                return hit[0]
            return None

    def drop(self, scopes: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop(scopes, None)

    def put(self, scopes: tuple[str, ...], token: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[scopes] = (token, time.monotonic() + max(lifetime - 10.0, lifetime / 2))


def fetch_token(session: requests.Session, challenge: Challenge, scopes: tuple[str, ...],
                creds: Credentials | None, options: RegistryOptions, host: str,
                verify: bool | str) -> tuple[str, float]:
    """Run the token flow against the challenge's realm; returns (token, lifetime seconds)."""
    realm = challenge.realm
    parts = urlsplit(realm)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise RegistryError(f"registry {host} sent a bearer challenge with an unusable realm",
                            found=realm[:200] or "no realm")
    if parts.scheme == "http" and not (is_loopback(parts.netloc) or options.insecure):
        raise RegistryError(
            f"registry {host} asks for credentials at a plain-HTTP token endpoint {parts.netloc}",
            expected="an https:// realm (or a loopback host)",
            fix="refusing to send credentials in the clear; pass --insecure only if you trust the network",
        )
    service = challenge.params.get("service")
    timeout = (options.connect_timeout, options.read_timeout)
    if creds and creds.identity_token:
        form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                "client_id": "sccheck", "scope": " ".join(scopes)}
        if service:
            form["service"] = service
        resp = session.post(realm, data=form, timeout=timeout, verify=verify, stream=True,
                            allow_redirects=False)  # a redirect would resend the refresh token
    else:
        params: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if service:
            params.insert(0, ("service", service))
        auth = (creds.username, creds.password) if creds and creds.username else None
        resp = session.get(realm, params=params, auth=auth, timeout=timeout, verify=verify,
                           stream=True)
    with resp:
        if resp.status_code in (401, 403):
            raise RegistryError(
                f"the token service of {host} refused the credentials",
                found=f"HTTP {resp.status_code}",
                fix=f"check the user name and password given for {host} (--auth {host}=USER, "
                    "SCCHECK_REGISTRY_HOST/USERNAME/PASSWORD or docker login)",
                facts={"registry": host, "status": resp.status_code},
            )
        if resp.status_code != 200:
            raise RegistryError(f"the token service of {host} answered HTTP {resp.status_code}",
                                facts={"registry": host, "status": resp.status_code})
        body = resp.raw.read(MAX_TOKEN_RESPONSE + 1, decode_content=True)
        if len(body) > MAX_TOKEN_RESPONSE:
            raise RegistryError(f"the token service of {host} sent an oversized answer")
    try:
        doc = load_json(body, f"the token answer of {host}", error=RegistryError)
        token = doc.get("token") or doc.get("access_token")
        lifetime = float(doc.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (ValueError, AttributeError, TypeError):
        raise RegistryError(f"the token service of {host} did not answer with a JSON token") from None
    if not isinstance(token, str) or not token:
        raise RegistryError(f"the token service of {host} answered without a token")
    return token, lifetime
