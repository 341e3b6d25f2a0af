"""A small registry in a thread on 127.0.0.1 that can be told to lie (test-only).

It serves an honest, minimal distribution API from memory; `inject()` makes it answer chosen
requests with chosen statuses, headers and bodies, `times` times. With `bearer=True` it demands
a bearer token minted by its own `/token` endpoint (basic credentials checked there).

Transport lies (`inject(..., behaviour=...)`), for the next `times` matching requests:
- "delay": wait `delay` seconds, then answer honestly (a slow registry);
- "stall": send the status and headers of the honest answer, then no body, until closed;
- "truncate": send the honest headers and half the body, then close the connection;
- "bad-chunked": answer with chunked encoding whose chunk sizes are garbage.
Blob GETs honour `Range: bytes=N-` with 206 (unless `ignore_range`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Injection:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    times: int = 1
    behaviour: str = ""
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body_len: int


class LyingRegistry:
    def __init__(self, *, bearer: bool = False, user: str = "robot",
                 password: str = "pa55-for-tests", tls: tuple[str, str] | None = None) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[bytes, str]] = {}
        self.uploads: dict[str, bytearray] = {}
        self.injections: list[Injection] = []
        self.requests: list[Seen] = []
        self.tokens_issued: list[str] = []
        self.fail_after_patch = 0  # take a chunk, then answer 500 anyway (this many times)
        self.ignore_range = False
        self.stop = threading.Event()  # set on close: stalled answers end
        self.token_scopes: list[list[str]] = []
        self.bearer = bearer
        self.scheme = "https" if tls else "http"
        self.user, self.password = user, password
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"registry": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def inject(self, method: str, path: str, status: int = 200, *, headers: dict[str, str] | None = None,
               body: bytes = b"", times: int = 1, behaviour: str = "", delay: float = 0.0) -> None:
        with self.lock:
            self.injections.append(Injection(method, re.compile(path), status, headers or {}, body, times,
                                             behaviour, delay))

    def put_manifest(self, ref: str, data: bytes, media_type: str) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.manifests[digest] = self.manifests[ref] = (data, media_type)
        return digest

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for r in self.requests if r.method == method and re.search(pattern, r.path))

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    registry: LyingRegistry
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        lie = getattr(self, "lie", "")
        self.lie = ""
        headers = dict(headers or {})
        if lie == "bad-chunked":
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"zz-not-hex\r\n" + body[:10] + b"\r\n")
            self.close_connection = True
            return
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if lie == "stall":
            self.wfile.flush()
            self.registry.stop.wait(120)
            self.close_connection = True
            return
        if lie == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self._send(status, body, {"Content-Type": "application/json"})

    def _handle(self) -> None:
        reg = self.registry
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        reg.requests.append(Seen(self.command, self.path, dict(self.headers), len(body)))
        if url.path == "/token":
            return self._token(query)
        chosen = None
        with reg.lock:
            for inj in reg.injections:
                if inj.times > 0 and inj.method == self.command and inj.path.search(url.path):
                    inj.times -= 1
                    chosen = inj
                    break
        if chosen is not None:
            if chosen.delay:
                reg.stop.wait(chosen.delay)
            if not chosen.behaviour:
                return self._send(chosen.status, chosen.body, chosen.headers)
            if chosen.behaviour != "delay":
                self.lie = chosen.behaviour  # the honest answer below, told badly
        if reg.bearer and not self._authorized():
            realm = f"{reg.scheme}://{reg.host}/token"
            scope = f"repository:{self._repo(url.path)}:pull"
            challenge = f'Bearer realm="{realm}",service="lying",scope="{scope}"'
            return self._error_with(401, "UNAUTHORIZED", "authentication required",
                                    {"WWW-Authenticate": challenge})
        if url.path == "/v2/":
            return self._send(200, b"{}")
        match = re.match(r"^/v2/(.+)/(manifests|blobs|tags|referrers)/(.*)$", url.path)
        if not match:
            match_upload = re.match(r"^/upload/(\w+)$", url.path)
            if match_upload:
                return self._upload(match_upload.group(1), body, query)
            return self._error(404, "NOT_FOUND", "no route")
        _, kind, rest = match.groups()
        if kind == "manifests":
            return self._manifest(rest, body)
        if kind == "blobs":
            if rest.startswith("uploads"):
                upload = secrets.token_hex(6)
                reg.uploads[upload] = bytearray()
                return self._send(202, b"", {"Location": f"/upload/{upload}", "Range": "0-0"})
            blob = reg.blobs.get(rest)
            if blob is None:
                return self._error(404, "BLOB_UNKNOWN", "blob unknown")
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if wanted and not reg.ignore_range and int(wanted.group(1)) < len(blob):
                start = int(wanted.group(1))
                span = f"bytes {start}-{len(blob) - 1}/{len(blob)}"
                return self._send(206, blob[start:], {"Content-Type": "application/octet-stream",
                                                      "Content-Range": span})
            return self._send(200, blob, {"Content-Type": "application/octet-stream"})
        if kind == "referrers":
            return self._error(404, "NOT_FOUND", "no referrers API")
        return self._error(404, "NOT_FOUND", "no route")

    def _error_with(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self._send(status, body, {"Content-Type": "application/json", **headers})

    @staticmethod
    def _repo(path: str) -> str:
        match = re.match(r"^/v2/(.+)/(manifests|blobs|tags|referrers)/", path)
        return match.group(1) if match else ""

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.registry.tokens_issued

    def _token(self, query: dict[str, str]) -> None:
        reg = self.registry
        auth = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{reg.user}:{reg.password}".encode()).decode()
        if auth != expected:
            return self._error(401, "UNAUTHORIZED", "bad credentials")
        token = secrets.token_hex(16)
        reg.tokens_issued.append(token)
        reg.token_scopes.append(parse_qs(urlsplit(self.path).query).get("scope", []))
        self._send(200, json.dumps({"token": token, "expires_in": 300}).encode(),
                   {"Content-Type": "application/json"})

    def _manifest(self, ref: str, body: bytes) -> None:
        reg = self.registry
        if self.command == "PUT":
            digest = reg.put_manifest(ref, body, self.headers.get("Content-Type", ""))
            return self._send(201, b"", {"Docker-Content-Digest": digest})
        found = reg.manifests.get(ref)
        if found is None:
            return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        data, media_type = found
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self._send(200, data, {"Content-Type": media_type, "Docker-Content-Digest": digest})

    def _upload(self, upload: str, body: bytes, query: dict[str, str]) -> None:
        reg = self.registry
        buf = reg.uploads.get(upload)
        if buf is None:
            return self._error(404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
        if self.command == "PATCH":
            start = int(self.headers.get("Content-Range", "0-0").split("-")[0])
            if start != len(buf):
                return self._error(416, "BLOB_UPLOAD_INVALID", "range mismatch")
            buf += body
            if reg.fail_after_patch > 0:
                reg.fail_after_patch -= 1
                return self._error(500, "UNKNOWN", "took the chunk but failed to say so")
            return self._send(202, b"", {"Location": f"/upload/{upload}", "Range": f"0-{len(buf) - 1}"})
        if self.command == "PUT":
            buf += body
            digest = "sha256:" + hashlib.sha256(bytes(buf)).hexdigest()
            if digest != query.get("digest"):
                return self._error(400, "DIGEST_INVALID", "digest mismatch")
            reg.blobs[digest] = bytes(buf)
            del reg.uploads[upload]
            return self._send(201, b"", {"Docker-Content-Digest": digest})
        if self.command == "DELETE":
            del reg.uploads[upload]
            return self._send(204)
        if self.command == "GET":
            return self._send(204, b"", {"Range": f"0-{max(len(buf) - 1, 0)}",
                                         "Location": f"/upload/{upload}"})
        return self._error(405, "UNSUPPORTED", "method")

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle
