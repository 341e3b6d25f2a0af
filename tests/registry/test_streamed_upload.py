"""A copied blob streams from its source into its upload (no whole-blob buffer): the bytes
that reach the registry are the source's, checked on the way, and a destination that breaks
off gets the blob again from a fresh read of the source."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from supplychain.errors import DigestMismatch, ImageError, RegistryError
from supplychain.image.descriptor import Descriptor, MediaType
from supplychain.registry import RegistryOptions, Repository

from .lying_server import LyingRegistry
from .test_defences import liar  # noqa: F401  (the fixture)
from .test_repository import open_repo

SIZE = 700 << 10   # above the single-POST size: the streamed path
MONO = RegistryOptions(backoff_base=0.001, max_retries=2)
CHUNKED = RegistryOptions(monolithic_max=0, chunk_size=256 << 10, backoff_base=0.001, max_retries=2)


class Source:
    """A blob's bytes in pieces; counts how often it is opened."""

    def __init__(self, data: bytes, piece: int = 100 << 10) -> None:
        self.data, self.piece, self.opened = data, piece, 0

    def __call__(self) -> Iterator[bytes]:
        self.opened += 1
        return (self.data[i:i + self.piece] for i in range(0, len(self.data), self.piece))


@pytest.mark.parametrize("options", [MONO, CHUNKED], ids=["one-put", "patches"])
def test_a_streamed_blob_arrives_whole(any_registry, options: RegistryOptions) -> None:
    repo = open_repo(any_registry, options=options)
    data = os.urandom(SIZE)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, data)
    source = Source(data)
    repo.write_blob_chunks(desc, source(), reopen=source)
    assert repo.read_blob(desc) == data and source.opened == 1


@pytest.mark.parametrize("options", [MONO, CHUNKED], ids=["one-put", "patches"])
def test_a_lying_source_is_never_committed(any_registry, options: RegistryOptions) -> None:
    repo = open_repo(any_registry, options=options)
    claimed = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, os.urandom(SIZE))
    other = os.urandom(SIZE)
    cases = [(Source(other), DigestMismatch, "does not match"),              # same size, other bytes
             (Source(other + b"x"), ImageError, "larger than its descriptor"),
             (Source(other[:-1]), ImageError, "ended early")]
    for source, kind, words in cases:
        with pytest.raises(kind, match=words):
            repo.write_blob_chunks(claimed, source(), reopen=source)
        assert source.opened == 1            # the source's fault: not read again
        fresh = open_repo(any_registry, repo.repository, options)
        assert not fresh.has_blob(claimed.digest)


@pytest.mark.parametrize(("options", "method"), [(MONO, "PUT"), (CHUNKED, "PATCH")],
                         ids=["one-put", "patches"])
def test_a_destination_that_breaks_off_gets_the_blob_again(liar: LyingRegistry, options: RegistryOptions,  # noqa: F811
                                                           method: str) -> None:
    repo = Repository(liar.host, "lies/app", options)
    data = os.urandom(SIZE)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, data)
    source = Source(data)
    liar.inject(method, r"^/upload/", 500, times=1)
    repo.write_blob_chunks(desc, source(), reopen=source)
    assert liar.blobs[desc.digest] == data
    assert source.opened == 2                 # streamed once, then read again
    assert liar.count("DELETE", r"^/upload/") == 1   # the broken session was cancelled


def test_a_source_that_fails_is_not_read_again(liar: LyingRegistry) -> None:  # noqa: F811
    repo = Repository(liar.host, "lies/app", MONO)
    data = os.urandom(SIZE)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, data)
    opened = []

    def broken() -> Iterator[bytes]:
        opened.append(1)
        yield data[:SIZE // 2]
        raise RegistryError("the source registry went away")

    with pytest.raises(RegistryError, match="went away"):
        repo.write_blob_chunks(desc, broken(), reopen=broken)
    assert len(opened) == 1 and desc.digest not in liar.blobs
