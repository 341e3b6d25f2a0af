"""A tampering proxy in front of a real registry: it serves altered bytes for manifests asked
for by digest, while still claiming the original digest in Docker-Content-Digest."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tests.helpers.procs import free_port


@contextmanager
def tampering_proxy(upstream: str) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _forward(self, method: str) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            resp = requests.request(method, upstream + self.path, headers=headers, data=body,
                                    allow_redirects=False, timeout=30)
            data = resp.content
            if method == "GET" and "/manifests/sha256:" in self.path and resp.status_code == 200:
                data = data.replace(b'"schemaVersion":2', b'"schemaVersion": 2', 1)
            self.send_response(resp.status_code)
            for k, v in resp.headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(k, v.replace(upstream, f"http://127.0.0.1:{port}"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._forward("GET")

        def do_HEAD(self) -> None:
            self._forward("HEAD")

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
