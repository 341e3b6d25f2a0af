# ruff: noqa: E501
"""An HTTP proxy on 127.0.0.1 in front of one registry: it counts requests and bytes, classifies
each request by what it writes, and can fail chosen ones or run a hook at the Nth request.

Clients talk to the proxy as if it were the registry (the Host header is passed through, so
the registry's upload `Location`s point back at the proxy). Bodies are buffered (registry
objects here are small).

Kinds of request (`kind_of`):
    blob      POST/PATCH/PUT under /blobs/uploads/ (uploads and mounts)
    manifest  PUT /manifests/<digest> of a manifest without a subject
    referrer  PUT /manifests/<digest> of a manifest with a subject
    vsa       a referrer whose predicate type is the SLSA verification summary
    fallback  PUT /manifests/sha256-<hex> (the fallback referrers index)
    tag       PUT /manifests/<any other tag>
    read      everything else (GET, HEAD, ...)

    proxy = FaultProxy(registry.host)
    proxy.fail("tag", nth=1, times=99)      # the first tag write and every one after it: HTTP 500
    proxy.at_request(17, lambda: proc.send_signal(signal.SIGKILL))
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers.procs import free_port

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "content-length"}
_MANIFEST_PUT = re.compile(r"^/v2/.+/manifests/([^/?]+)")
VSA_TYPE = "https://slsa.dev/verification_summary/v1"
KINDS = ("blob", "manifest", "referrer", "vsa", "fallback", "tag", "read")


@dataclass
class Counts:
    requests: int = 0
    bytes_up: int = 0      # request bodies (blob and manifest uploads)
    bytes_down: int = 0    # response bodies (blob and manifest downloads)
    kinds: dict[str, int] = field(default_factory=dict)


def kind_of(method: str, path: str, body: bytes) -> str:
    if "/blobs/uploads" in path and method in ("POST", "PATCH", "PUT"):
        return "blob"
    match = _MANIFEST_PUT.match(path)
    if method != "PUT" or not match:
        return "read"
    ident = match.group(1)
    if ident.startswith("sha256-"):
        return "fallback"
    if not ident.startswith("sha256:"):
        return "tag"
    try:
        doc = json.loads(body)
    except ValueError:
        return "manifest"
    if isinstance(doc, dict) and isinstance(doc.get("subject"), dict):
        annotations = doc.get("annotations") or {}
        return "vsa" if annotations.get("dev.sigstore.bundle.predicateType") == VSA_TYPE else "referrer"
    return "manifest"


@dataclass
class _Rule:
    kind: str
    nth: int
    times: int
    status: int
    seen: int = 0
    failed: int = 0


class _QuietServer(ThreadingHTTPServer):
    """A client that closes its kept-alive connection is not an error worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FaultProxy:
    def __init__(self, upstream: str, latency: float = 0.0) -> None:
        self.upstream = upstream
        self.latency = latency   # seconds each request waits before it is forwarded (a far registry)
        self.counts = Counts()
        self.log: list[tuple[str, str, str, int]] = []    # (kind, method, path, status)
        self._rules: list[_Rule] = []
        self._hooks: dict[int, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self.port = free_port()
        self.server = _QuietServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def fail(self, kind: str, nth: int = 1, times: int = 1, status: int = 500) -> None:
        """Answer `status` to the nth request of `kind` and the `times - 1` after it."""
        assert kind in KINDS, kind
        with self._lock:
            self._rules.append(_Rule(kind, nth, times, status))

    def at_request(self, n: int, hook: Callable[[], None]) -> None:
        """Run `hook` when the nth request (counted from now) arrives, before it is forwarded."""
        with self._lock:
            self._hooks[self.counts.requests + n] = hook

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._hooks.clear()

    def failures(self) -> int:
        with self._lock:
            return sum(r.failed for r in self._rules)

    def reset(self) -> Counts:
        with self._lock:
            old, self.counts = self.counts, Counts()
            self.log = []
        return old

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _decide(self, kind: str) -> tuple[int | None, Callable[[], None] | None]:
        with self._lock:
            self.counts.requests += 1
            self.counts.kinds[kind] = self.counts.kinds.get(kind, 0) + 1
            hook = self._hooks.pop(self.counts.requests, None)
            for rule in self._rules:
                if rule.kind != kind:
                    continue
                rule.seen += 1
                if rule.seen >= rule.nth and rule.failed < rule.times:
                    rule.failed += 1
                    return rule.status, hook
        return None, hook

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the body waits for the
            # client's delayed ACK of the headers (up to 40 ms a response on a kept-alive
            # connection), a delay no registry adds and one that would be counted against
            # whichever client makes more requests in a row.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes | None:
                """The whole request body, or None when the client broke off before its end (a
                killed client): such a request is dropped, as a registry drops it, never
                forwarded as if it were complete."""
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    parts = []
                    for _ in range(1_000_000):
                        line = self.rfile.readline()
                        if not line.endswith(b"\n"):
                            return None
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while True:
                                trailer = self.rfile.readline()
                                if not trailer.endswith(b"\n"):
                                    return None
                                if not trailer.strip():
                                    break
                            return b"".join(parts)
                        part = self.rfile.read(size)
                        if len(part) != size or not self.rfile.readline().endswith(b"\n"):
                            return None
                        parts.append(part)
                    return None
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                return data if len(data) == length else None

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes, length: str | None) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _forward(self) -> None:
                body = self._body()
                if body is None:
                    self.close_connection = True
                    return
                if proxy.latency:
                    time.sleep(proxy.latency)
                kind = kind_of(self.command, self.path, body)
                status, hook = proxy._decide(kind)
                if hook is not None:
                    hook()
                if status is not None:
                    data = json.dumps({"errors": [{"code": "UNKNOWN", "message": "injected fault"}]}).encode()
                    with proxy._lock:
                        proxy.log.append((kind, self.command, self.path, status))
                    self._answer(status, [("Content-Type", "application/json")], data, str(len(data)))
                    return
                headers: dict[str, str] = {}
                for k, v in self.headers.items():    # repeated headers (Accept) are joined, not dropped
                    if k.lower() not in _HOP:
                        headers[k] = f"{headers[k]}, {v}" if k in headers else v
                if body or self.command in ("PUT", "POST", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy.upstream, timeout=120)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
                finally:
                    conn.close()
                with proxy._lock:
                    proxy.counts.bytes_up += len(body)
                    proxy.counts.bytes_down += len(data) if self.command != "HEAD" else 0
                    proxy.log.append((kind, self.command, self.path, resp.status))
                length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                self._answer(resp.status, out_headers, data, length)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        return Handler
