"""The image model with an in-memory store: platforms, THE children rule, the evidence layout."""

from __future__ import annotations

import json

import pytest

from supplychain.errors import DigestMismatch, ImageError, ImageNotFound, UsageError
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.memory import MemoryStore
from supplychain.image.platform import Platform, format_platform, parse_platforms
from supplychain.image.view import ImageView, IndexView, classify, find_platform, open_image
from supplychain.signing.api import evidence_targets


def image(store: MemoryStore, payload: str, config: dict[str, object] | None = None) -> Descriptor:
    """An image manifest with one layer; `config` is its image config."""
    layer = payload.encode()
    ldesc = store.write_blob(layer, Descriptor.for_bytes(MediaType.OCI_LAYER, layer))
    cfg = canonical_json(config if config is not None else {"os": "linux", "architecture": "amd64"})
    cdesc = store.write_blob(cfg, Descriptor.for_bytes(MediaType.OCI_CONFIG, cfg))
    manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                               "config": cdesc.to_dict(), "layers": [ldesc.to_dict()]})
    digest = store.write_manifest(manifest, MediaType.OCI_MANIFEST)
    return Descriptor(MediaType.OCI_MANIFEST, digest, len(manifest))


def index(store: MemoryStore, entries: list[tuple[Descriptor, dict[str, str] | None, dict[str, str]]]) -> str:
    manifests = [Descriptor(d.media_type, d.digest, d.size, annotations, platform).to_dict()
                 for d, platform, annotations in entries]
    data = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": manifests})
    return store.write_manifest(data, MediaType.OCI_INDEX, tag="v1")


AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64"}
UNKNOWN = {"os": "unknown", "architecture": "unknown"}


def test_platform_parser_is_strict_and_normalises() -> None:
    assert [str(p) for p in parse_platforms("linux/amd64,linux/arm64")] == ["linux/amd64", "linux/arm64"]
    arm = parse_platforms(("linux/arm", "linux/arm/v6"))
    assert [str(p) for p in arm] == ["linux/arm/v7", "linux/arm/v6"]
    assert Platform.parse("linux/arm64").same_as(Platform.parse("linux/arm64/v8"))
    assert format_platform({"os": "linux", "architecture": "arm", "variant": "v7"}) == "linux/arm/v7"
    assert format_platform(None) == "unknown"
    with pytest.raises(UsageError, match="empty entry"):
        parse_platforms("linux/amd64,,")
    with pytest.raises(UsageError, match="empty entry"):
        parse_platforms("linux/amd64,")
    with pytest.raises(UsageError, match="listed twice"):
        parse_platforms("linux/amd64,linux/amd64")
    with pytest.raises(UsageError, match="'linux/arm64' name the same platform") as info:
        parse_platforms("linux/arm64,linux/arm64/v8")
    assert "keep one of them (linux/arm64/v8)" in info.value.diagnostics()
    with pytest.raises(UsageError, match="name the same platform"):
        parse_platforms(["linux/arm", "linux/arm/v7"])
    for bad in ("linux", "linux/", "/amd64", "Linux/AMD64", "linux/amd64/v8/x", "linux/am d64"):
        with pytest.raises(UsageError, match="invalid platform"):
            Platform.parse(bad)


def test_the_rule_classifies_children() -> None:
    desc = Descriptor(MediaType.OCI_MANIFEST, "sha256:" + "a" * 64, 10)

    def with_(platform: dict[str, str] | None, annotations: dict[str, str] | None = None,
              media_type: str = MediaType.OCI_MANIFEST) -> bool:
        return classify(Descriptor(media_type, desc.digest, 10, annotations or {}, platform)).runnable

    assert with_(AMD64)
    assert with_(None)                                          # containerd reads its config
    assert not with_(UNKNOWN)                                   # BuildKit attestation manifest
    assert with_({"os": "unknown", "architecture": "amd64"})    # only exactly unknown/unknown
    assert with_(ARM64, {"vnd.docker.reference.type": "attestation-manifest"})
    assert not with_(AMD64, media_type="application/vnd.example.blob")
    assert classify(Descriptor(MediaType.OCI_INDEX, desc.digest, 10, {}, AMD64)).kind == "index"


def test_views_of_an_index_and_its_runnable_children() -> None:
    store = MemoryStore()
    amd = image(store, "amd", {"os": "linux", "architecture": "amd64"})
    bare = image(store, "bare", {"os": "linux", "architecture": "arm64", "variant": "v8",
                                 "config": {"Labels": {"org.opencontainers.image.base.name": "base:1"}}})
    noplat = image(store, "art", {"architecture": "", "os": ""})
    attest = image(store, "attestation", {})
    top = index(store, [(amd, AMD64, {}), (bare, None, {}), (noplat, None, {}),
                        (attest, UNKNOWN, {"vnd.docker.reference.type": "attestation-manifest"})])
    view = open_image(store, top)
    assert isinstance(view, IndexView)
    assert [c.runnable for c in view.children()] == [True, True, True, False]
    runnable = view.runnable()
    assert [i.digest for i in runnable] == [amd.digest, bare.digest, noplat.digest]
    assert [i.platform_name for i in runnable] == ["linux/amd64", "linux/arm64/v8", "unknown"]
    assert runnable[1].base_name == "base:1"
    assert find_platform(view, Platform.parse("linux/arm64")).digest == bare.digest
    with pytest.raises(ImageError, match="has no image for linux/s390x"):
        find_platform(view, Platform.parse("linux/s390x"))
    single = open_image(store, amd.digest)
    assert isinstance(single, ImageView) and single.runnable() == [single]
    assert single.config()["architecture"] == "amd64" and len(single.layers()) == 1


def test_nested_index_is_refused_and_duplicates_are_ambiguous() -> None:
    store = MemoryStore()
    amd = image(store, "amd")
    inner = index(store, [(amd, AMD64, {})])
    data, _, _ = store.read_manifest(inner)
    outer = index(store, [(Descriptor(MediaType.OCI_INDEX, inner, len(data)), AMD64, {})])
    with pytest.raises(ImageError, match="contains another index"):
        open_image(store, outer).runnable()
    other = image(store, "amd again")
    twice = index(store, [(amd, AMD64, {}), (other, AMD64, {})])
    with pytest.raises(ImageError, match="2 images for linux/amd64"):
        find_platform(open_image(store, twice), Platform.parse("linux/amd64"))


def test_evidence_targets_follow_the_layout() -> None:
    store = MemoryStore()
    amd, arm = image(store, "amd"), image(store, "arm", {"os": "linux", "architecture": "arm64"})
    attest = image(store, "attestation", {})
    top = index(store, [(amd, AMD64, {}), (arm, ARM64, {}), (attest, UNKNOWN, {})])
    every, chosen = evidence_targets(store, top)
    assert [t.digest for t in every] == [top, amd.digest, arm.digest] and chosen is None
    one, chosen = evidence_targets(store, top, Platform.parse("linux/arm64/v8"))
    assert [t.digest for t in one] == [top, arm.digest] and chosen == "linux/arm64"
    alone, chosen = evidence_targets(store, amd.digest, Platform.parse("linux/amd64"))
    assert [t.digest for t in alone] == [amd.digest] and chosen == "linux/amd64"
    only_attestations = index(store, [(attest, UNKNOWN, {})])
    with pytest.raises(UsageError, match="no runnable image"):
        evidence_targets(store, only_attestations)


def test_stores_raise_one_error_family() -> None:
    store = MemoryStore()
    with pytest.raises(ImageNotFound):
        store.resolve("v9")
    with pytest.raises(ImageNotFound):
        open_image(store, "sha256:" + "0" * 64)
    amd = image(store, "amd")
    # A store that serves other bytes than asked for: the view hashes them itself.
    doctored = MemoryStore()
    data, media_type, _ = store.read_manifest(amd.digest)
    changed = json.loads(data)
    changed["annotations"] = {"x": "y"}
    fake = canonical_json(changed)
    doctored._manifests[amd.digest] = (fake, media_type)
    with pytest.raises(DigestMismatch, match="does not match its digest"):
        open_image(doctored, amd.digest)


def test_copy_moves_every_child_and_sign_targets_only_the_runnable_ones() -> None:
    from supplychain.copy import TagConflict, copy_image

    src, dst = MemoryStore("src"), MemoryStore("dst")
    amd = image(src, "amd")
    bare = image(src, "bare", {"os": "linux", "architecture": "arm64"})
    attest = image(src, "attestation", {})
    note = b"not an image"
    other = src.write_blob(note, Descriptor.for_bytes("application/vnd.example.note", note))
    top = index(src, [(amd, AMD64, {}), (bare, None, {}), (attest, UNKNOWN, {}), (other, None, {})])
    result = copy_image(src, "v1", dst, "v1")
    assert result.digest == top and dst.lookup_tag("v1") == top
    for desc in (amd, bare, attest):
        assert dst.has_manifest(desc.digest)
    assert dst.read_blob(other) == note
    targets, _ = evidence_targets(dst, top)
    assert [t.digest for t in targets] == [top, amd.digest, bare.digest]
    # One tag rule: another image under the same tag moves only with force.
    again = index(src, [(amd, AMD64, {})])
    with pytest.raises(TagConflict, match="already names a different image"):
        copy_image(src, again, dst, "v1")
    assert copy_image(src, again, dst, "v1", force=True).tag_updated and dst.lookup_tag("v1") == again


def test_many_entries_copy_but_too_many_runnable_images_are_refused() -> None:
    from supplychain.copy import copy_image

    src = MemoryStore("src")
    amd = image(src, "amd")
    attestations = [image(src, f"attestation {n}", {}) for n in range(70)]
    top = index(src, [(amd, AMD64, {}), *((a, UNKNOWN, {}) for a in attestations)])
    assert [i.digest for i in open_image(src, top).runnable()] == [amd.digest]
    assert copy_image(src, top, MemoryStore("dst"), None).manifests_copied == 72
    crowd = index(src, [(image(src, f"img {n}"), AMD64 | {"variant": f"x{n}"}, {}) for n in range(65)])
    with pytest.raises(ImageError, match="too many runnable images"):
        open_image(src, crowd).runnable()
