"""A tiny forwarding HTTP proxy on 127.0.0.1 that records every request it is asked to carry
(test-only). Host names in `routes` are resolved by the proxy alone: a client can reach them
only through it."""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade"}


class RecordingProxy:
    def __init__(self, routes: dict[str, str]) -> None:
        self.routes = {name.lower(): target for name, target in routes.items()}  # "name" -> "127.0.0.1:PORT"
        self.seen: list[tuple[str, str]] = []  # (method, absolute URL or host:port for CONNECT)
        self.headers_seen: list[dict[str, str]] = []
        handler = type("Handler", (_Handler,), {"proxy": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    proxy: RecordingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_CONNECT(self) -> None:
        """A TLS tunnel: the proxy sees the host name, never what goes through."""
        self.proxy.seen.append(("CONNECT", self.path))
        self.proxy.headers_seen.append(dict(self.headers))
        target = self.proxy.routes.get(self.path.rsplit(":", 1)[0].lower())
        if target is None:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=30)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        ends = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(ends, [], [], 30)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()

    def _forward(self) -> None:
        self.proxy.seen.append((self.command, self.path))
        self.proxy.headers_seen.append(dict(self.headers))
        body = self._body()
        url = urlsplit(self.path)
        target = self.proxy.routes.get((url.hostname or "").lower())
        if url.scheme != "http" or target is None:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        conn = http.client.HTTPConnection(target, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        path = url.path + (f"?{url.query}" if url.query else "")
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward
