"""A content store held in memory: what a build produces, and the store of the model's unit tests.

It keeps blobs and manifests by digest, tags in a dict, and answers `referrers` from the
`subject` of the manifests it holds (like a registry with the OCI 1.1 referrers API).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

from supplychain.errors import DigestMismatch, ImageNotFound
from supplychain.image.descriptor import (
    Descriptor,
    MediaType,
    ReferrerList,
    compute_digest,
    parse_manifest,
    validate_digest,
    verify_digest,
)
from supplychain.image.store import LocalStore


class MemoryStore(LocalStore):
    """A `ContentStore` in memory. Thread-safe; every read is checked against its digest."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self._blobs: dict[str, bytes] = {}
        self._manifests: dict[str, tuple[bytes, str]] = {}
        self.tags: dict[str, str] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return self.name

    def has_blob(self, digest: str) -> bool:
        return digest in self._blobs or digest in self._manifests

    def has_manifest(self, digest: str, listed: bool = False, size: int | None = None) -> bool:
        return digest in self._manifests

    def store_manifest(self, data: bytes, media_type: str) -> str:
        return self.write_manifest(data, media_type)

    def lookup_tag(self, tag: str) -> str | None:
        return self.tags.get(tag)

    def read_blob(self, desc: Descriptor) -> bytes:
        data = self._blobs.get(desc.digest)
        if data is None and desc.digest in self._manifests:
            data = self._manifests[desc.digest][0]
        if data is None:
            raise ImageNotFound(f"blob {desc.digest} is not in {self.name}")
        if len(data) != desc.size:
            raise DigestMismatch(f"blob {desc.digest} has the wrong size", expected=str(desc.size),
                                 found=str(len(data)))
        verify_digest(data, desc.digest, f"blob in {self.name}")
        return data

    def iter_blob(self, desc: Descriptor, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        data = self.read_blob(desc)
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]

    def write_blob(self, data: bytes, desc: Descriptor | None = None) -> Descriptor:
        if desc is None:
            desc = Descriptor.for_bytes("application/octet-stream", data)
        else:
            verify_digest(data, desc.digest, "blob to write")
        with self._lock:
            self._blobs[desc.digest] = bytes(data)
        return desc

    def write_blob_chunks(self, desc: Descriptor, chunks: Iterable[bytes], *,
                          reopen: Callable[[], Iterable[bytes]] | None = None) -> None:
        self.write_blob(b"".join(chunks), desc)

    def contents(self) -> Iterator[tuple[str, bytes]]:
        """Every blob and manifest held, by digest."""
        yield from list(self._blobs.items())
        for digest, (data, _) in list(self._manifests.items()):
            yield digest, data

    def resolve(self, identifier: str) -> Descriptor:
        digest = self.tags.get(identifier, identifier)
        if not digest.startswith(("sha256:", "sha512:")):
            raise ImageNotFound(f"no image tagged {identifier!r} in {self.name}",
                                found=f"tags: {', '.join(sorted(self.tags)) or 'none'}")
        validate_digest(digest)
        found = self._manifests.get(digest)
        if found is None:
            raise ImageNotFound(f"{identifier} is not in {self.name}")
        return Descriptor(found[1], digest, len(found[0]))

    def read_manifest(self, identifier: str) -> tuple[bytes, str, str]:
        desc = self.resolve(identifier)
        data, media_type = self._manifests[desc.digest]
        return data, media_type, desc.digest

    def write_manifest(self, data: bytes, media_type: str, tag: str | None = None, *,
                       index: bool = True) -> str:
        doc = parse_manifest(data, media_type)
        digest = compute_digest(data)
        with self._lock:
            self._manifests[digest] = (bytes(data), str(doc["mediaType"]))
            if tag:
                self.tags[tag] = digest
        return digest

    def referrers(self, digest: str, artifact_type: str | None = None) -> ReferrerList:
        found = []
        for mdigest, (data, media_type) in list(self._manifests.items()):
            if media_type not in MediaType.MANIFESTS:
                continue
            doc = parse_manifest(data, media_type)
            if (doc.get("subject") or {}).get("digest") != digest:
                continue
            kind = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
            if artifact_type and kind != artifact_type:
                continue
            found.append(Descriptor(media_type, mdigest, len(data), dict(doc.get("annotations") or {}),
                                    artifact_type=kind))
        return ReferrerList(found, [])


__all__ = ["MemoryStore"]
