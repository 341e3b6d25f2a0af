"""`sbom` and `harden check` against a registry that lies about transport: broken answers are
retried or resumed and give the same result; a registry that keeps failing is exit 3 naming the
host; a web page instead of a manifest names host, path and status; a bomb from a registry is
refused like one from a layout."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from tests.hostile.crafted import GZIP, gzip_bomb, gzip_bytes, run, tar_of
from tests.registry.lying_server import LyingRegistry

OS_RELEASE = b'ID=alpine\nVERSION_ID=3.20.0\n'
APK_DB = b"P:musl\nV:1.2.5-r0\nA:x86_64\n\n"


@pytest.fixture
def liar() -> Iterator[LyingRegistry]:
    server = LyingRegistry()
    yield server
    server.close()


def put_image(liar: LyingRegistry, layer: bytes) -> str:
    config = canonical_json({"architecture": "amd64", "os": "linux", "config": {"User": "65532"},
                             "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}})
    for blob in (layer, config):
        liar.blobs["sha256:" + hashlib.sha256(blob).hexdigest()] = blob
    manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                               "config": Descriptor.for_bytes(MediaType.OCI_CONFIG, config).to_dict(),
                               "layers": [Descriptor.for_bytes(GZIP, layer).to_dict()]})
    liar.put_manifest("v1", manifest, MediaType.OCI_MANIFEST)
    return f"{liar.host}/team/app:v1"


def alpine_layer() -> bytes:
    return gzip_bytes(tar_of([("etc/os-release", OS_RELEASE), ("lib/apk/db/installed", APK_DB)]))


@pytest.mark.parametrize("behaviour", ["truncate", "bad-chunked", "reset-then-ok"])
def test_broken_blob_answers_are_retried_for_sbom_and_harden(liar: LyingRegistry, behaviour: str,
                                                             tmp_path) -> None:
    ref = put_image(liar, alpine_layer())
    lie = "truncate" if behaviour == "reset-then-ok" else behaviour
    liar.inject("GET", r"/blobs/sha256", behaviour=lie, times=1)
    out = run(["--json", "sbom", ref, "--output", str(tmp_path / "bom.json")])
    assert out.code == 0, out.stderr
    assert "1.2.5-r0" in (tmp_path / "bom.json").read_text()
    liar.inject("GET", r"/blobs/sha256", behaviour=lie, times=1)
    checked = run(["--json", "harden", "check", ref], allowed=(0, 1))
    assert checked.doc["predicateType"] and "findings" in checked.doc


@pytest.mark.parametrize("command", [["sbom"], ["harden", "check"]])
def test_a_registry_that_keeps_failing_is_exit_3_naming_the_host(liar: LyingRegistry,
                                                                 command: list[str]) -> None:
    ref = put_image(liar, alpine_layer())
    liar.inject("GET", r"/blobs/sha256", 503, times=1000)
    out = run(["--json", *command, ref], allowed=(3,))
    assert liar.host in out.doc["message"] or liar.host in str(out.doc["facts"]), out.doc
    assert "503" in str(out.doc)


@pytest.mark.parametrize("command", [["sbom"], ["harden", "check"]])
def test_a_web_page_instead_of_a_manifest(liar: LyingRegistry, command: list[str]) -> None:
    liar.inject("GET", r"/manifests/", 200, body=b"<html>please log in</html>",
                headers={"Content-Type": "text/html"}, times=100)
    out = run(["--json", *command, f"{liar.host}/team/app:v1"], allowed=(3,))
    assert "web page" in out.doc["message"] and "/v2/team/app/manifests/v1" in out.doc["message"]
    assert "HTTP 200" in out.doc["found"]


@pytest.mark.parametrize("command", [["sbom"], ["harden", "check"]])
def test_a_bomb_from_a_registry_is_refused(liar: LyingRegistry, command: list[str]) -> None:
    ref = put_image(liar, gzip_bomb(256 << 20))
    out = run(["--json", *command, ref], allowed=(3,))
    assert "decompression bomb" in out.doc["message"]
