"""Small test images and referrers, written into any ContentStore (layout or registry)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from supplychain.image.descriptor import EMPTY_JSON, Descriptor, MediaType, canonical_json
from supplychain.image.store import ContentStore

SIG_TYPE = MediaType.SIGSTORE_BUNDLE
SBOM_TYPE = "application/vnd.cyclonedx+json"


@dataclass(frozen=True)
class Pushed:
    digest: str
    media_type: str
    data: bytes
    blobs: tuple[Descriptor, ...]

    @property
    def desc(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.data))


def image_manifest(store: ContentStore, *, layer_sizes: tuple[int, ...] = (3000, 5000), arch: str = "amd64",
                   tag: str | None = None, seed: bytes | None = None) -> Pushed:
    """An OCI image with random layers (unique per call unless `seed`)."""
    salt = seed if seed is not None else os.urandom(16)
    config = canonical_json({"architecture": arch, "os": "linux", "salt": salt.hex(),
                             "rootfs": {"type": "layers", "diff_ids": []}})
    cdesc = store.write_blob(config, Descriptor.for_bytes(MediaType.OCI_CONFIG, config))
    layers = []
    for i, size in enumerate(layer_sizes):
        data = (salt + bytes([i])) * (size // 17 + 1)
        data = data[:size]
        layers.append(store.write_blob(data, Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, data)))
    doc = {"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "config": cdesc.to_dict(),
           "layers": [d.to_dict() for d in layers]}
    data = canonical_json(doc)
    digest = store.write_manifest(data, MediaType.OCI_MANIFEST, tag=tag)
    return Pushed(digest, MediaType.OCI_MANIFEST, data, (cdesc, *layers))


def multi_platform(store: ContentStore, tag: str | None = None) -> tuple[Pushed, list[Pushed]]:
    children = [image_manifest(store, arch=a) for a in ("amd64", "arm64")]
    doc = {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [
        {**c.desc.to_dict(), "platform": {"os": "linux", "architecture": a}}
        for c, a in zip(children, ("amd64", "arm64"), strict=True)]}
    data = canonical_json(doc)
    digest = store.write_manifest(data, MediaType.OCI_INDEX, tag=tag)
    return Pushed(digest, MediaType.OCI_INDEX, data, ()), children


def referrer(store: ContentStore, subject: Pushed | Descriptor, *, artifact_type: str = SIG_TYPE,
             payload: bytes | None = None, annotations: dict[str, str] | None = None) -> Pushed:
    """An OCI 1.1 artifact manifest (empty config, one layer) whose subject is `subject`."""
    subj = subject.desc if isinstance(subject, Pushed) else subject
    store.write_blob(EMPTY_JSON, Descriptor.for_bytes(MediaType.OCI_EMPTY, EMPTY_JSON))
    body = payload if payload is not None else os.urandom(64)
    layer = store.write_blob(body, Descriptor.for_bytes(artifact_type, body))
    doc = {"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "artifactType": artifact_type,
           "config": Descriptor.for_bytes(MediaType.OCI_EMPTY, EMPTY_JSON).to_dict(),
           "layers": [layer.to_dict()],
           "subject": Descriptor(subj.media_type, subj.digest, subj.size).to_dict(),
           "annotations": annotations or {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}}
    data = canonical_json(doc)
    digest = store.write_manifest(data, MediaType.OCI_MANIFEST)
    return Pushed(digest, MediaType.OCI_MANIFEST, data, (layer,))


def summary(descs: list[Descriptor]) -> list[tuple[str, str, int, str | None, dict[str, str]]]:
    return [(d.media_type, d.digest, d.size, d.artifact_type, d.annotations) for d in descs]
