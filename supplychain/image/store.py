"""The content-store interface that every source and sink of images implements.

Implementations: `supplychain.image.layout.OCILayout` (a directory; a bundle archive opens as
one), `supplychain.image.memory.MemoryStore` (memory: a build's result, unit tests) and the
registry layer's repository client. Copy, sign, verify and promote are written against this
protocol only: no caller asks which kind of store it holds; what differs between stores (a
shared cache, a second referrers listing, blobs known without a request) is a question the
store answers. Every store raises the same errors (`supplychain.errors.ImageNotFound`,
`DigestMismatch`, other `ImageError`s). `LocalStore` gives the answers of a store this process
holds alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, cast, runtime_checkable

from supplychain.image.cache import ContentCache
from supplychain.image.descriptor import Descriptor, ReferrerList


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

    def write_blob_chunks(self, desc: Descriptor, chunks: Iterable[bytes], *,
                          reopen: Callable[[], Iterable[bytes]] | None = None) -> None:
        """Store a blob from a stream; refuses it unless it hashes to `desc.digest`. `reopen`
        reads the source again, for a store that streams and must start over (a registry)."""

    def read_manifest(self, identifier: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) for a tag or digest; verified when asked by digest."""

    def write_manifest(self, data: bytes, media_type: str, tag: str | None = None, *,
                       index: bool = True) -> str:
        """Store a manifest (and optionally tag it); returns its digest. A referrer is also listed
        in a second listing the store keeps (a registry's fallback index) unless `index` is
        False, which leaves that to one `index_referrers` call per subject."""

    def resolve(self, identifier: str) -> Descriptor:
        """Descriptor of the manifest a tag or digest names."""

    def referrers(self, digest: str, artifact_type: str | None = None) -> ReferrerList:
        """Manifests whose `subject` is `digest` (OCI 1.1 referrers, or the tag fallback); entries
        that did not check out are named in `rejected`."""

    def has_manifest(self, digest: str, listed: bool = False, size: int | None = None) -> bool:
        """True when the manifest is stored (with `listed`: also named at the top level, which
        only an OCI layout distinguishes - its index.json lists what is not a child). With
        `size`, a store that says how long what it holds is answers False when that differs
        (stored under the digest but not those bytes: a registry that did not check them)."""

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

    def mount_name(self) -> tuple[str, str] | None:
        """(registry host, repository) that a registry can mount this store's blobs from; None
        for a store no registry can mount from."""

    def knows_blob(self, digest: str) -> bool:
        """True when the store knows without a request that it holds the blob (it wrote, found
        or mounted it in this process)."""

    def expect_new_blob(self, digest: str) -> None:
        """The caller just made this blob (a fresh signature): the store need not ask whether it
        holds it before writing it."""

    def join_run(self, cache: ContentCache, *, list_once: bool = False) -> None:
        """Share `cache` with the other stores of one run; with `list_once`, each subject's
        referrers are listed once and filtered here (a promotion lists its source for the
        verification and for the copy)."""

    def index_referrers(self, subject: str, listed: list[Descriptor], *, defer: bool = False) -> int:
        """List `listed` (referrers of `subject` stored here) in the second listing the store
        keeps, if it keeps one; returns how many were added. With `defer`, hold them for the
        next write of that listing or `flush_index` (this process lists them meanwhile)."""

    def flush_index(self) -> int:
        """Write every held entry to its listing; returns how many held entries were added."""

    def unlisted_referrers(self, subject: str, wanted: set[str]) -> set[str]:
        """Those of `wanted` (referrer digests of `subject`) that a listing clients may read,
        other than the one `referrers()` read, does not name (empty with one listing)."""


class LocalStore:
    """The answers of a store this process holds alone (a directory, memory): nothing is shared
    with other writers, there is one listing of referrers, and nothing is mounted or cached."""

    def mount_blob_from(self, source: ContentStore, desc: Descriptor) -> bool:
        return False

    def shared(self) -> bool:
        return False

    def origin_of(self, desc: Descriptor) -> ContentStore:
        return cast(ContentStore, self)

    def mount_name(self) -> tuple[str, str] | None:
        return None

    def knows_blob(self, digest: str) -> bool:
        return False   # asking `has_blob` costs no request here

    def expect_new_blob(self, digest: str) -> None:
        return None

    def join_run(self, cache: ContentCache, *, list_once: bool = False) -> None:
        return None

    def index_referrers(self, subject: str, listed: list[Descriptor], *, defer: bool = False) -> int:
        return 0

    def flush_index(self) -> int:
        return 0

    def unlisted_referrers(self, subject: str, wanted: set[str]) -> set[str]:
        return set()


def share_cache(*stores: ContentStore, list_once: ContentStore | None = None) -> None:
    """One cache of verified manifests and small blobs for the stores of one run: what resolving
    read is not fetched again by the view or the copy (each entry was checked against its digest
    before it was kept). `list_once`: the store whose referrers are listed once per subject."""
    cache = ContentCache()
    for store in stores:
        store.join_run(cache, list_once=store is list_once)
