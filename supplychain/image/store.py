"""The content-store interface that every source and sink of images implements.

Implementations: `supplychain.image.layout.OCILayout` (a directory),
`supplychain.image.memory.MemoryStore` (memory: a build's result, unit tests) and the registry
layer's repository client. Copy, sign, verify and promote are written against this protocol only:
no caller asks which kind of store it holds. Every store raises the same errors
(`supplychain.errors.ImageNotFound`, `DigestMismatch`, other `ImageError`s).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from supplychain.image.descriptor import Descriptor


@runtime_checkable
class ContentStore(Protocol):
    def describe(self) -> str:
        """A short human name: 'oci:dist/oci' or 'localhost:5000/team/app'."""

    def has_blob(self, digest: str) -> bool: ...

    def read_blob(self, desc: Descriptor) -> bytes:
        """The blob's bytes, verified against `desc.digest` and `desc.size`."""

    def iter_blob(self, desc: Descriptor, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream the blob. The caller must verify the digest of what it consumes
        (`supplychain.image.descriptor.verify_digest` or a running hash)."""

    def write_blob(self, data: bytes, desc: Descriptor | None = None) -> Descriptor: ...

    def write_blob_chunks(self, desc: Descriptor, chunks: Iterable[bytes]) -> None:
        """Store a blob from a stream; refuses it unless it hashes to `desc.digest`."""

    def read_manifest(self, identifier: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) for a tag or digest; verified when asked by digest."""

    def write_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> str:
        """Store a manifest (and optionally tag it); returns its digest."""

    def resolve(self, identifier: str) -> Descriptor:
        """Descriptor of the manifest a tag or digest names."""

    def referrers(self, digest: str, artifact_type: str | None = None) -> list[Descriptor]:
        """Manifests whose `subject` is `digest` (OCI 1.1 referrers, or the tag fallback)."""

    def has_manifest(self, digest: str, listed: bool = False) -> bool:
        """True when the manifest is stored (with `listed`: also named at the top level, which
        only an OCI layout distinguishes - its index.json lists what is not a child)."""

    def store_manifest(self, data: bytes, media_type: str) -> str:
        """Store a manifest without naming it (a child of an index); returns its digest."""

    def lookup_tag(self, tag: str) -> str | None:
        """The digest `tag` names exactly, or None when the tag is not set."""

    def mount_blob_from(self, source: ContentStore, desc: Descriptor) -> bool:
        """Make `desc` available by linking it from `source` without moving bytes, where the two
        stores allow it (two repositories of one registry); False when not."""

    def shared(self) -> bool:
        """True when other writers may change it at the same time (a registry): a tag written
        there is read back; False for a layout or memory this process holds."""

    def origin_of(self, desc: Descriptor) -> ContentStore:
        """The store that really holds the blob (a build's base layers live in the base's store)."""
