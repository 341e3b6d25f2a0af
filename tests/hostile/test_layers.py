"""Hostile layers against `sbom` and `harden check`: bombs refused quickly, zstd read, unknown
compressions named, entries that escape the root reported (and nothing extracted)."""

from __future__ import annotations

import lzma
import tarfile
import time
from pathlib import Path

import pytest
import zstandard

from tests.hostile.crafted import GZIP, ZSTD, gzip_bomb, gzip_bytes, layout_with_layers, run, tar_of

OS_RELEASE = b'ID=alpine\nVERSION_ID=3.20.0\nNAME="Alpine Linux"\n'
APK_DB = b"P:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\n\n"


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 GiB gzip bomb (about 1 MB compressed)."""
    path = tmp_path_factory.mktemp("bomb") / "oci"
    layout_with_layers(path, [(gzip_bomb(1 << 30), GZIP)])
    return path


@pytest.mark.parametrize("command", [["sbom"], ["harden", "check"]])
def test_a_gzip_bomb_is_refused_quickly(bomb: Path, command: list[str], tmp_path: Path) -> None:
    began = time.monotonic()
    out = run(["--json", *command, f"oci:{bomb}", *(["--output", str(tmp_path / "s.json")]
                                                     if command == ["sbom"] else [])], allowed=(3,))
    took = time.monotonic() - began
    assert "decompression bomb" in out.doc["message"], out.doc
    assert took < 5, took


def test_the_per_layer_cap_is_configurable(tmp_path: Path) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    layout_with_layers(tmp_path / "oci", [(gzip_bytes(tar_of([("big", data)])), GZIP)])
    out = run(["--json", "harden", "check", f"oci:{tmp_path / 'oci'}"],
              env={"SCCHECK_MAX_LAYER_BYTES": "1000000", "SCCHECK_MAX_LAYER_RATIO": "100000"}, allowed=(3,))
    assert "layer 0 decompresses to more than 1000000 bytes" in out.doc["message"]
    assert "SCCHECK_MAX_LAYER_BYTES" in out.doc["expected"]


def test_the_per_image_cap_counts_every_layer(tmp_path: Path) -> None:
    first, second = (gzip_bytes(tar_of([(name, name.encode() * 150_000)])) for name in ("part", "more"))
    layout_with_layers(tmp_path / "oci", [(first, GZIP), (second, GZIP)])
    env = {"SCCHECK_MAX_IMAGE_BYTES": "1000000", "SCCHECK_MAX_LAYER_RATIO": "100000"}
    out = run(["--json", "harden", "check", f"oci:{tmp_path / 'oci'}"], env=env, allowed=(3,))
    assert "the image decompresses to more than 1000000 bytes (reached in layer 1)" in out.doc["message"]


def _alpine_layer() -> bytes:
    return tar_of([("etc/os-release", OS_RELEASE), ("lib/apk/db/installed", APK_DB)])


def test_zstd_layers_are_read_by_sbom(tmp_path: Path) -> None:
    blob = zstandard.ZstdCompressor().compress(_alpine_layer())
    layout_with_layers(tmp_path / "oci", [(blob, ZSTD)])
    out = run(["--json", "sbom", f"oci:{tmp_path / 'oci'}", "--output", str(tmp_path / "bom.json")])
    assert out.code == 0
    bom = (tmp_path / "bom.json").read_text()
    assert '"musl"' in bom and "1.2.5-r0" in bom


def test_zstd_layers_are_read_by_harden(tmp_path: Path) -> None:
    setuid = tarfile.TarInfo("usr/bin/su")
    setuid.mode = 0o4755
    blob = zstandard.ZstdCompressor().compress(tar_of([setuid]))
    layout_with_layers(tmp_path / "oci", [(blob, ZSTD)])
    out = run(["--json", "harden", "check", f"oci:{tmp_path / 'oci'}"], allowed=(1,))
    assert "SCH005" in {f["rule"] for f in out.doc["findings"]}


@pytest.mark.parametrize(("blob", "kind"), [
    (lzma.compress(b"x" * 1000), "xz"),
    (b"BZh91AY&SY" + b"\0" * 100, "bzip2"),
])
def test_unknown_compressions_are_named(tmp_path: Path, blob: bytes, kind: str) -> None:
    layout_with_layers(tmp_path / "oci", [(blob, f"application/vnd.oci.image.layer.v1.tar+{kind}")])
    for command in (["harden", "check"], ["sbom"]):
        out = run(["--json", *command, f"oci:{tmp_path / 'oci'}"], allowed=(3,))
        assert f"compressed with {kind}" in out.doc["message"], out.doc


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_entries_that_escape_the_root_are_findings_and_nothing_is_extracted(tmp_path: Path) -> None:
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    evil = [("../../evil-parent", b"x"), ("/abs-evil", b"x"),
            _link("hard", "../../../etc/passwd", tarfile.LNKTYPE),
            _link("a/b/up", "../../../../etc", tarfile.SYMTYPE),
            _link("bin/sh", "/bin/busybox", tarfile.SYMTYPE),      # absolute targets stay inside
            _link("a/ok", "../etc/x", tarfile.SYMTYPE)]             # climbs, but not above the root
    layout_with_layers(work / "oci", [(gzip_bytes(tar_of(evil)), GZIP)])
    out = run(["--json", "harden", "check", f"oci:{work / 'oci'}"], allowed=(1,))
    escapes = sorted(f["evidence"] for f in out.doc["findings"] if f["rule"] == "SCH016")
    assert len(escapes) == 4, escapes
    assert any("evil-parent" in e for e in escapes) and any("abs-evil" in e for e in escapes)
    assert any("hard link" in e for e in escapes) and any("symlink 'a/b/up'" in e for e in escapes)
    assert not (tmp_path / "evil-parent").exists() and not Path("/abs-evil").exists()


def test_gzip_members_one_after_another_and_a_cut_stream(tmp_path: Path) -> None:
    import gzip

    from supplychain.errors import ImageError
    from supplychain.image.filesystem import ImageFilesystem, apply_layer

    raw = tar_of([("a", b"first" * 1000), ("b", b"second" * 1000)])
    blob = gzip.compress(raw[:700]) + gzip.compress(raw[700:]) + b"\0" * 64  # pigz-style members, padding
    fs = ImageFilesystem()
    apply_layer(fs, 0, blob)
    assert sorted(fs.files) == ["/a", "/b"]
    with pytest.raises(ImageError, match="not a readable tar archive"):
        apply_layer(ImageFilesystem(), 0, blob[: len(blob) // 2])


def test_an_unreadable_manifest_in_a_layout_does_not_hide_the_referrers(tmp_path: Path) -> None:
    import hashlib
    import json

    from supplychain.image.descriptor import EMPTY_JSON, Descriptor, MediaType, canonical_json
    from supplychain.image.layout import OCILayout

    root = tmp_path / "oci"
    digest = layout_with_layers(root, [(gzip_bytes(tar_of([("a", b"x")])), GZIP)])
    layout = OCILayout(root)
    subject = layout.resolve(digest)
    empty = layout.write_blob(EMPTY_JSON, Descriptor.for_bytes(MediaType.OCI_EMPTY, EMPTY_JSON))
    referrer = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "artifactType": "x/y",
                               "config": empty.to_dict(), "layers": [empty.to_dict()],
                               "subject": subject.to_dict()})
    good = layout.write_manifest(referrer, MediaType.OCI_MANIFEST)
    junk = b'{"schemaVersion": 2, "layers": 5}'
    (root / "blobs" / "sha256" / hashlib.sha256(junk).hexdigest()).write_bytes(junk)
    index = json.loads((root / "index.json").read_text())
    index["manifests"].append({"mediaType": MediaType.OCI_MANIFEST, "size": len(junk),
                               "digest": "sha256:" + hashlib.sha256(junk).hexdigest()})
    (root / "index.json").write_text(json.dumps(index))
    found = OCILayout(root).referrers(digest)
    assert [d.digest for d in found] == [good]
    assert len(found.rejected) == 1 and "layers" in found.rejected[0][1]
