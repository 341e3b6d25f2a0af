"""The fault proxy the interruption tests and the benchmarks put in front of a registry: a
request whose client broke off before the end of its body must not reach the registry (a
registry drops such a request; forwarding what arrived as if whole stored a truncated manifest
under its digest once, on a registry that does not check it)."""

from __future__ import annotations

import hashlib
import socket
import uuid

import pytest
import requests

from supplychain.image.descriptor import MediaType, canonical_json
from tests.helpers.faultproxy import FaultProxy


def _cut_off(host: str, head: bytes, body: bytes) -> None:
    address, port = host.rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        while sock.recv(4096):   # the proxy closes without an answer
            pass


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_cut_short_is_dropped_not_forwarded(referrers_registry, framing: str) -> None:
    manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [],
                               "annotations": {"n": uuid.uuid4().hex}})
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    repo = f"proxy/cut-{uuid.uuid4().hex[:8]}"
    path = f"/v2/{repo}/manifests/{digest}"
    proxy = FaultProxy(referrers_registry.host)
    try:
        half = manifest[: len(manifest) // 2]
        if framing == "length":
            head = (f"PUT {path} HTTP/1.1\r\nHost: {proxy.host}\r\nContent-Type: {MediaType.OCI_INDEX}\r\n"
                    f"Content-Length: {len(manifest)}\r\n\r\n").encode()
            _cut_off(proxy.host, head, half)
        else:
            head = (f"PUT {path} HTTP/1.1\r\nHost: {proxy.host}\r\nContent-Type: {MediaType.OCI_INDEX}\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n").encode()
            _cut_off(proxy.host, head, f"{len(manifest):x}\r\n".encode() + half)
        there = requests.head(f"http://{referrers_registry.host}{path}", timeout=10,
                              headers={"Accept": MediaType.OCI_INDEX})
        assert there.status_code == 404, f"the proxy forwarded a truncated body ({framing})"
        assert proxy.counts.requests == 0
        # A whole body still goes through.
        whole = requests.put(f"http://{proxy.host}{path}", data=manifest, timeout=10,
                             headers={"Content-Type": MediaType.OCI_INDEX})
        assert whole.status_code == 201, whole.text
    finally:
        proxy.stop()
