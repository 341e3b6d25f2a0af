# ruff: noqa: E501
"""A counting HTTP proxy on 127.0.0.1 in front of one registry: requests and bytes per client run.

Clients talk to the proxy as if it were the registry (the Host header is passed through, so
the registry's upload `Location`s point back at the proxy). Bodies are buffered (registry
blobs here are a few MB), which is fine for counting, not for timing: time runs go direct.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers.procs import free_port

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "content-length"}


@dataclass
class Counts:
    requests: int = 0
    bytes_up: int = 0      # request bodies (blob and manifest uploads)
    bytes_down: int = 0    # response bodies (blob and manifest downloads)


class CountingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.counts = Counts()
        self._lock = threading.Lock()
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self) -> Counts:
        with self._lock:
            old, self.counts = self.counts, Counts()
        return old

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    parts = []
                    for _ in range(1_000_000):
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline().strip():
                                pass
                            break
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(parts)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                body = self._body()
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
                    proxy.counts.requests += 1
                    proxy.counts.bytes_up += len(body)
                    proxy.counts.bytes_down += len(data) if self.command != "HEAD" else 0
                self.send_response(resp.status)
                for k, v in out_headers:
                    self.send_header(k, v)
                length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        return Handler
