"""Tiny OCI images written straight into a ContentStore (a layout or a registry repository)."""

from __future__ import annotations

import gzip
import io
import tarfile

from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.store import ContentStore


def _layer(text: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def push_tiny_image(store: ContentStore, tag: str | None = None, text: str = "hello",
                    arch: str = "amd64") -> Descriptor:
    layer = _layer(text)
    layer_desc = store.write_blob(layer, Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, layer))
    import hashlib

    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
    config = canonical_json({"architecture": arch, "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
    config_desc = store.write_blob(config, Descriptor.for_bytes(MediaType.OCI_CONFIG, config))
    manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                               "config": config_desc.to_dict() | {"mediaType": MediaType.OCI_CONFIG},
                               "layers": [layer_desc.to_dict() | {"mediaType": MediaType.OCI_LAYER_GZIP}]})
    digest = store.write_manifest(manifest, MediaType.OCI_MANIFEST, tag)
    return Descriptor(MediaType.OCI_MANIFEST, digest, len(manifest),
                      platform={"os": "linux", "architecture": arch})


def push_tiny_index(store: ContentStore, tag: str | None = None, text: str = "hello") -> tuple[
        Descriptor, list[Descriptor]]:
    children = [push_tiny_image(store, None, f"{text}-{arch}", arch) for arch in ("amd64", "arm64")]
    index = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX,
                            "manifests": [c.to_dict() for c in children]})
    digest = store.write_manifest(index, MediaType.OCI_INDEX, tag)
    return Descriptor(MediaType.OCI_INDEX, digest, len(index)), children
