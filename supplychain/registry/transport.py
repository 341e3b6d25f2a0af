"""HTTP to one registry host: scheme and TLS, auth, retries with backoff, errors that say what.

One `Transport` per (host, options) is shared by every repository of that host, so bearer
tokens are fetched once per scope set and reused. Each thread gets its own requests.Session.
"""

from __future__ import annotations

import base64
import email.utils
import random
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from supplychain.errors import Error, ImageError, ImageNotFound, RegistryError
from supplychain.httpclient import new_session
from supplychain.progress import notice, notices_wanted
from supplychain.registry.auth import (
    Challenge,
    Credentials,
    TokenCache,
    fetch_token,
    find_credentials,
    parse_challenge,
)
from supplychain.registry.options import RegistryOptions, is_loopback
from supplychain.strictdoc import load_json

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ERROR_BODY = 64 * 1024
USER_AGENT = "sccheck-registry/0.1"


class RegistryNotFound(RegistryError, ImageNotFound):
    """The registry answered 404: the repository, manifest, blob or tag does not exist. Callers
    catch `ImageNotFound`, which every store raises."""


class RegistryAuthError(RegistryError):
    """The registry refused our credentials (401/403)."""


def _retry_after(value: str | None, cap: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), cap))


_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_NEVER_RETRY = (requests.exceptions.SSLError, requests.exceptions.InvalidURL,
                requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidHeader)
HEARTBEAT_SECONDS = 10.0


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (requests -> urllib3 -> socket), outermost first."""
    out = [exc]
    while len(out) < 8:
        inner = next((a for a in out[-1].args if isinstance(a, BaseException)), None)
        reason = getattr(out[-1], "reason", None)
        inner = inner or (reason if isinstance(reason, BaseException) else None)
        if inner is None or inner in out:
            break
        out.append(inner)
    return out


def _reason(exc: BaseException) -> str:
    """The innermost cause, as in 'ReadTimeoutError' or 'ProtocolError: Connection broken'."""
    inner = _chain(exc)[-1]
    text = str(inner).split(": ", 1)[-1][:160]
    name = type(inner).__name__
    return f"{name}: {text}" if text and text != name else name


def _never_reached(exc: BaseException) -> bool:
    """True when the connection never opened, so the server cannot have acted on the request."""
    return any(isinstance(e, requests.exceptions.ConnectTimeout | urllib3.exceptions.NewConnectionError
                          | ConnectionRefusedError) for e in _chain(exc))


def _read_body(resp: requests.Response, cap: int | None, what: str) -> None:
    """Read the whole body into the response (so `.content` works), refusing more than `cap`."""
    if cap is None:
        _ = resp.content
        return
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > cap:
        resp.close()
        raise ImageError(f"{what} is too large", expected=f"at most {cap} bytes", found=f"{declared} bytes")
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in resp.iter_content(64 * 1024):
            total += len(chunk)
            if total > cap:
                raise ImageError(f"{what} is too large", expected=f"at most {cap} bytes",
                                 found=f"more than {cap} bytes")
            chunks.append(chunk)
    finally:
        resp.close()
    resp._content = b"".join(chunks)
    resp._content_consumed = True  # type: ignore[attr-defined]


class _Heartbeat:
    """Says every HEARTBEAT_SECONDS that an answer is still awaited, until the block ends. One
    watchdog thread serves every request in flight (a thread per request would cost more than
    a fast registry's answer)."""

    _lock = threading.Lock()
    _waiting: dict[int, list[Any]] = {}  # id -> [host, what, started, next notice]
    _watchdog: threading.Thread | None = None

    def __init__(self, host: str, what: str, started: float) -> None:
        self.entry = [host, what, started, time.monotonic() + HEARTBEAT_SECONDS]

    @classmethod
    def _watch(cls) -> None:
        while True:
            time.sleep(min(1.0, HEARTBEAT_SECONDS))
            now = time.monotonic()
            with cls._lock:
                due = [e for e in cls._waiting.values() if e[3] <= now]
                for entry in due:
                    entry[3] = now + HEARTBEAT_SECONDS
            for host, what, started, _ in due:
                notice(f"still waiting for {host} to {what} ({now - started:.0f} s)")

    def __enter__(self) -> _Heartbeat:
        if notices_wanted():
            with self._lock:
                self._waiting[id(self)] = self.entry
                if _Heartbeat._watchdog is None:
                    _Heartbeat._watchdog = threading.Thread(target=self._watch, daemon=True,
                                                            name="sccheck-heartbeat")
                    _Heartbeat._watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._waiting.pop(id(self), None)


def registry_error_codes(resp: requests.Response) -> tuple[str, str]:
    """(codes, messages) from a distribution `{"errors": [...]}` body, read with a cap."""
    try:
        body = resp.raw.read(MAX_ERROR_BODY, decode_content=True) if resp.raw is not None else b""
    except Exception:  # a broken body must not hide the status
        body = b""
    if not body and resp._content:
        body = resp._content[:MAX_ERROR_BODY]
    try:
        doc = load_json(body, "error body")
        errors = doc.get("errors") if isinstance(doc, dict) else None
    except Error:
        errors = None
    if not isinstance(errors, list):
        return "", ""
    codes = [str(e.get("code", "")) for e in errors if isinstance(e, dict)]
    messages = [str(e.get("message", ""))[:300] for e in errors if isinstance(e, dict)]
    return ", ".join(c for c in codes if c), "; ".join(m for m in messages if m)


class Transport:
    def __init__(self, host: str, options: RegistryOptions) -> None:
        self.host = host
        self.options = options
        if options.ca_file:
            self.scheme = "https"
        elif is_loopback(host) or options.insecure:
            self.scheme = "http"
        else:
            self.scheme = "https"
        self.verify: bool | str = options.ca_file or True
        self.base_url = f"{self.scheme}://{host}"
        self._local = threading.local()
        self._lock = threading.RLock()
        self._challenge: Challenge | None = None
        self._tokens = TokenCache()
        self._creds: Credentials | None = None
        self._creds_loaded = False

    # -- plumbing -------------------------------------------------------------------------
    def session(self) -> requests.Session:
        sess: requests.Session | None = getattr(self._local, "session", None)
        if sess is None:
            sess = new_session()  # proxies from the environment, never netrc, no auth across hosts
            sess.headers["User-Agent"] = USER_AGENT
            self._local.session = sess
        return sess

    def url(self, path: str) -> str:
        return urljoin(self.base_url + "/", path.lstrip("/")) if not path.startswith("http") else path

    def credentials(self) -> Credentials | None:
        with self._lock:
            if not self._creds_loaded:
                self._creds = find_credentials(self.options, self.host)
                self._creds_loaded = True
            return self._creds

    def _auth_header(self, scopes: tuple[str, ...]) -> dict[str, str]:
        challenge = self._challenge
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            creds = self.credentials()
            if creds and creds.username:
                raw = f"{creds.username}:{creds.password}".encode()
                return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
            return {}
        if challenge.scheme == "bearer":
            token = self._tokens.get(scopes)
            if token is None:
                with self._lock:
                    token = self._tokens.get(scopes)
                    if token is None:
                        token, lifetime = fetch_token(self.session(), challenge, scopes, self.credentials(),
                                                      self.options, self.host, self.verify)
                        self._tokens.put(scopes, token, lifetime)
            return {"Authorization": f"Bearer {token}"}
        return {}

    def _backoff(self, attempt: int, retry_after: float | None, why: str, deadline: float) -> bool:
        """Sleep before the next attempt, saying so on the progress channel. False when the
        operation's deadline would pass first (then the caller gives up now)."""
        if retry_after is not None:
            delay = retry_after
        else:
            delay = min(self.options.backoff_max, self.options.backoff_base * (2**attempt))
            delay *= 0.75 + random.random() / 2  # noqa: S311 - jitter, not crypto
        if time.monotonic() + delay >= deadline:
            return False
        if delay >= 1:
            notice(f"waiting {delay:.0f} s for {self.host} ({why}); attempt {attempt + 2} of "
                   f"{self.options.max_retries + 1}")
        if delay > 0:
            time.sleep(delay)
        return True

    def _unreachable(self, exc: Exception, repository: str, what: str, attempts: int,
                     started: float, url: str, answered: bool) -> RegistryError:
        reason = _reason(exc)
        took = time.monotonic() - started
        facts = {"registry": self.host, "repository": repository, "request": urlsplit(url).path,
                 "attempts": attempts, "reason": reason, "seconds": round(took, 1)}
        if isinstance(exc, requests.exceptions.SSLError):
            return RegistryError(f"TLS to registry {self.host} failed while trying to {what}",
                                 facts={**facts, "reason": str(exc)[:300]},
                                 fix="pass --ca-file with the registry's CA, or --insecure for a plain-HTTP "
                                     "registry")
        if isinstance(exc, _NEVER_RETRY):
            return RegistryError(f"cannot build a request to registry {self.host} to {what}",
                                 facts={**facts, "reason": str(exc)[:200]},
                                 fix="check the registry host name and port")
        if answered:
            return RegistryError(f"registry {self.host} broke off its answer while trying to {what}",
                                 facts=facts,
                                 fix="the connection or the registry failed mid-answer; try again")
        return RegistryError(f"cannot reach registry {self.host} to {what}",
                             facts={**facts, "url": self.base_url},
                             fix="check that the registry runs and the host name and port are right")

    # -- the one entry point --------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        repository: str,
        scopes: Iterable[str],
        what: str,
        ok: Iterable[int] = (200,),
        headers: Mapping[str, str] | None = None,
        data: bytes | Iterable[bytes] | None = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
        body_cap: int | None = None,
        once: bool = False,
    ) -> requests.Response:
        """Send with auth and retries; return the response when its status is in `ok`, else raise
        a RegistryError naming registry, repository, status and the registry's error code.

        Time is bounded: each connect and each read wait at most the options' timeouts, and the
        whole operation (every attempt and wait) ends by `options.deadline`. While an answer is
        awaited or a retry is pending, the progress channel says so. Without `stream`, the body
        is read here (at most `body_cap` bytes); a body that breaks off is retried for idempotent
        methods. With `once` (a body streamed from its source, which cannot be sent twice) there
        is one attempt: no retry and no second try after a new token. No exception of the HTTP
        library leaves this method."""
        ok_set = frozenset(ok)
        scope_key = tuple(sorted(set(scopes)))
        url = self.url(path)
        attempt = 0
        reauthed = False
        started = time.monotonic()
        deadline = started + self.options.deadline
        idempotent = method in _IDEMPOTENT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RegistryError(
                    f"registry {self.host} did not answer in time to {what}",
                    expected=f"an answer within {self.options.deadline:.0f} s",
                    found=f"no usable answer after {attempt + 1} attempt(s)",
                    facts={"registry": self.host, "repository": repository, "request": urlsplit(url).path},
                    fix="the registry is slow or overloaded; try again later")
            timeout = (min(self.options.connect_timeout, remaining),
                       min(self.options.read_timeout, remaining))
            hdrs = dict(headers or {})
            sent = False
            try:
                if urlsplit(url).netloc == self.host:  # credentials only ever go to the registry itself
                    hdrs.update(self._auth_header(scope_key))
                with _Heartbeat(self.host, what, started):
                    resp = self.session().request(method, url, headers=hdrs, data=data, params=params,
                                                  stream=True, timeout=timeout, verify=self.verify,
                                                  allow_redirects=method in ("GET", "HEAD"))
                    sent = True
                    status = resp.status_code
                    if status in ok_set and not stream:
                        _read_body(resp, body_cap, f"{what}: the answer of {self.host}")
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                retriable = not isinstance(exc, _NEVER_RETRY) and (
                    idempotent or (not sent and _never_reached(exc)))
                if retriable and not once and attempt < self.options.max_retries and self._backoff(
                        attempt, None, _reason(exc), deadline):
                    attempt += 1
                    continue
                raise self._unreachable(exc, repository, what, attempt + 1, started, url, sent) from None
            if status in ok_set:
                return resp
            if status == 401 and not reauthed and not once and urlsplit(resp.url).netloc == self.host:
                # Only the registry itself may ask for its credentials (not a host it redirected
                # to), and the token asked for has exactly the scopes this request needs: a
                # challenge's own `scope` never widens it.
                challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
                resp.close()
                if challenge and challenge.scheme in ("basic", "bearer"):
                    self._tokens.drop(scope_key)  # a token the registry no longer takes
                    self._challenge = challenge
                    reauthed = True
                    continue
            if status in RETRY_STATUSES and not once and attempt < self.options.max_retries:
                wait = _retry_after(resp.headers.get("Retry-After"), self.options.retry_after_max)
                why = f"{status}, Retry-After" if wait is not None else f"HTTP {status}"
                if self._backoff(attempt, wait, why, deadline):
                    resp.close()
                    attempt += 1
                    continue
            raise self.error(resp, repository, what, attempts=attempt + 1)

    def error(self, resp: requests.Response, repository: str, what: str, attempts: int = 1) -> RegistryError:
        status = resp.status_code
        codes, messages = registry_error_codes(resp)
        resp.close()
        path = urlsplit(resp.url).path if resp.url else ""
        facts: dict[str, object] = {"registry": self.host, "repository": repository, "status": status}
        if codes:
            facts["code"] = codes
        if messages:
            facts["registry message"] = messages
        if path:
            facts["request"] = f"{resp.request.method if resp.request else ''} {path}"
        if attempts > 1:
            facts["attempts"] = attempts
        summary = f"registry {self.host} refused to {what} in {repository}: HTTP {status}"
        if codes:
            summary += f" {codes}"
        cls: type[RegistryError] = RegistryError
        fix = None
        if status == 404:
            cls = RegistryNotFound
            fix = "check the repository, tag or digest"
        elif status in (401, 403):
            cls = RegistryAuthError
            fix = (f"give credentials with access, bound to this registry (--auth {self.host}=USER "
                   "with --password-stdin, SCCHECK_REGISTRY_HOST/USERNAME/PASSWORD, or docker login)")
        elif status in RETRY_STATUSES:
            fix = "the registry is overloaded or failing; try again later"
        return cls(summary, facts=facts, fix=fix)


_TRANSPORTS: dict[tuple[str, RegistryOptions], Transport] = {}
_TRANSPORTS_LOCK = threading.Lock()


def transport_for(host: str, options: RegistryOptions) -> Transport:
    with _TRANSPORTS_LOCK:
        key = (host, options)
        found = _TRANSPORTS.get(key)
        if found is None:
            found = _TRANSPORTS[key] = Transport(host, options)
        return found
