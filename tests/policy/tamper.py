"""Lying proxies in front of a real registry (test-only).

`tampering_proxy` serves altered bytes for manifests asked for by digest, while still claiming
the original digest in Docker-Content-Digest. `failing_proxy` forwards everything except the
requests its rule picks, which it answers with a status, or breaks ("stall": headers then no
body; "reset": half the body, then the connection closes) - a bad network or a failing registry.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests

from tests.helpers.procs import free_port


@contextmanager
def tampering_proxy(upstream: str) -> Iterator[str]:
    def tamper(method: str, path: str, status: int, data: bytes) -> bytes:
        if method == "GET" and "/manifests/sha256:" in path and status == 200:
            return data.replace(b'"schemaVersion":2', b'"schemaVersion": 2', 1)
        return data

    with failing_proxy(upstream, lambda method, path: None, tamper) as host:
        yield host


Rule = Callable[[str, str], "int | str | None"]  # (method, path) -> status, "stall", "reset" or None


@contextmanager
def failing_proxy(upstream: str, rule: Rule,
                  rewrite: Callable[[str, str, int, bytes], bytes] | None = None) -> Iterator[str]:
    """A proxy that forwards to `upstream` (http://host:port) except where `rule` says otherwise;
    `rewrite(method, path, status, body)` may change the bodies it passes on."""
    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            verdict = rule(method, self.path)
            if isinstance(verdict, int):
                payload = b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'
                self.send_response(verdict)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            resp = requests.request(method, upstream + self.path, headers=headers, data=body,
                                    allow_redirects=False, timeout=30)
            data = resp.content if rewrite is None else rewrite(method, self.path, resp.status_code,
                                                                resp.content)
            self.send_response(resp.status_code)
            for k, v in resp.headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(k, v.replace(upstream, f"http://127.0.0.1:{port}"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method == "HEAD":
                return
            if verdict == "stall":
                self.wfile.flush()
                stop.wait(60)
            elif verdict == "reset":
                self.wfile.write(data[: len(data) // 2])
            else:
                self.wfile.write(data)
                return
            self.close_connection = True

        def do_GET(self) -> None:
            self._forward("GET")

        def do_HEAD(self) -> None:
            self._forward("HEAD")

        def do_PUT(self) -> None:
            self._forward("PUT")

        def do_POST(self) -> None:
            self._forward("POST")

        def do_PATCH(self) -> None:
            self._forward("PATCH")

        def do_DELETE(self) -> None:
            self._forward("DELETE")

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop.set()
        time.sleep(0.05)
        server.shutdown()
        server.server_close()
