"""The image core: references, descriptors, defensive manifest parsing, OCI layout store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supplychain.errors import ImageError, UsageError
from supplychain.image import Descriptor, MediaType, compute_digest, parse_image_ref, parse_manifest
from supplychain.image.descriptor import canonical_json, loads_strict
from supplychain.image.layout import OCILayout


@pytest.mark.parametrize("text,registry,repo,tag,digest", [
    ("localhost:5000/team/app:v1", "localhost:5000", "team/app", "v1", None),
    ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None, None),
    ("alpine", "docker.io", "library/alpine", None, None),
    ("ghcr.io/o/r@sha256:" + "a" * 64, "ghcr.io", "o/r", None, "sha256:" + "a" * 64),
    ("ghcr.io/o/r:1.0@sha256:" + "b" * 64, "ghcr.io", "o/r", "1.0", "sha256:" + "b" * 64),
])
def test_parse_registry_refs(text, registry, repo, tag, digest) -> None:
    ref = parse_image_ref(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repo, tag, digest)
    assert not ref.is_layout


def test_parse_layout_refs() -> None:
    assert parse_image_ref("oci:dist/oci").layout_dir == "dist/oci"
    ref = parse_image_ref("oci:dist/oci:v2")
    assert (ref.layout_dir, ref.tag) == ("dist/oci", "v2")
    ref = parse_image_ref("oci:/abs/dir@sha256:" + "c" * 64)
    assert ref.layout_dir == "/abs/dir" and ref.digest == "sha256:" + "c" * 64


@pytest.mark.parametrize("bad", ["", "Upper/Case:tag", "host:5000/app@sha256:short", "r/app:bad tag", "oci:"])
def test_bad_refs_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_image_ref(bad)
    assert "fix" in info.value.diagnostics()


def test_manifest_parsing_refuses_ambiguity_and_mismatch() -> None:
    both = json.dumps({"schemaVersion": 2, "layers": [], "manifests": []}).encode()
    with pytest.raises(ImageError, match="ambiguous"):
        parse_manifest(both)
    config = Descriptor.for_bytes(MediaType.OCI_EMPTY, b"{}").to_dict()
    image = json.dumps({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "config": config,
                        "layers": []}).encode()
    with pytest.raises(ImageError, match="does not match its body"):
        parse_manifest(image, MediaType.OCI_INDEX)
    with pytest.raises(ImageError, match="too large"):
        parse_manifest(b" " * (5 * 1024 * 1024))
    with pytest.raises(ImageError, match="duplicate JSON key"):
        loads_strict(b'{"a": 1, "a": 2}')
    assert parse_manifest(image, MediaType.OCI_MANIFEST + "; charset=utf-8")["layers"] == []


def _image_manifest(layout: OCILayout, payload: bytes) -> bytes:
    layer = layout.write_blob(payload, Descriptor.for_bytes(MediaType.OCI_LAYER, payload))
    config = layout.write_blob(b"{}", Descriptor.for_bytes(MediaType.OCI_EMPTY, b"{}"))
    return canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                           "config": Descriptor(MediaType.OCI_EMPTY, config.digest, 2).to_dict(),
                           "layers": [Descriptor(MediaType.OCI_LAYER, layer.digest, layer.size).to_dict()]})


def test_layout_roundtrip_and_tags(tmp_path: Path) -> None:
    with OCILayout.transaction(tmp_path / "out") as layout:
        manifest = _image_manifest(layout, b"layer-bytes")
        digest = layout.write_manifest(manifest, MediaType.OCI_MANIFEST, tag="v1")
    reopened = OCILayout(tmp_path / "out")
    data, media_type, got = reopened.read_manifest("v1")
    assert (data, media_type, got) == (manifest, MediaType.OCI_MANIFEST, digest)
    assert reopened.read_manifest(digest)[2] == digest == compute_digest(manifest)
    assert json.loads((tmp_path / "out" / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    with pytest.raises(ImageError, match="no image tagged"):
        reopened.read_manifest("v2")


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new"
    with pytest.raises(RuntimeError), OCILayout.transaction(target) as layout:
        layout.write_blob(b"half")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    # An existing layout keeps its old index and loses only the blobs the failed write added.
    with OCILayout.transaction(target) as layout:
        layout.write_manifest(_image_manifest(layout, b"kept"), MediaType.OCI_MANIFEST, tag="v1")
    before = sorted(p.name for p in (target / "blobs" / "sha256").iterdir())
    index_before = (target / "index.json").read_bytes()
    with pytest.raises(RuntimeError), OCILayout.transaction(target) as layout:
        layout.write_manifest(_image_manifest(layout, b"dropped"), MediaType.OCI_MANIFEST, tag="v2")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in (target / "blobs" / "sha256").iterdir()) == before
    assert (target / "index.json").read_bytes() == index_before


def test_layout_detects_tampered_blob(tmp_path: Path) -> None:
    with OCILayout.transaction(tmp_path / "l") as layout:
        desc = layout.write_blob(b"original", Descriptor.for_bytes(MediaType.OCI_LAYER, b"original"))
    path = tmp_path / "l" / "blobs" / "sha256" / desc.digest.split(":")[1]
    path.write_bytes(b"tampered")
    with pytest.raises(ImageError, match="does not match its digest"):
        OCILayout(tmp_path / "l").read_blob(desc)


def test_layout_is_readable_by_other_users(tmp_path: Path) -> None:
    with OCILayout.transaction(tmp_path / "shared") as layout:
        layout.write_manifest(_image_manifest(layout, b"x"), MediaType.OCI_MANIFEST, tag="v1")
    modes = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777
             for p in [tmp_path / "shared", *(tmp_path / "shared").rglob("*")]}
    assert all(mode & 0o044 == 0o044 for mode in modes.values()), modes
