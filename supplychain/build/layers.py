"""Deterministic layer tarballs: same inputs => same bytes => same digest.

Entries are sorted by path, parent directories are added, owners are 0:0 with empty names,
modes are fixed by the caller, every mtime is one timestamp (SOURCE_DATE_EPOCH, else the
commit time, else 0), and gzip uses one pinned compressor at a fixed level, mtime 0 and no file
name.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass

from supplychain.build.compress import GZIP_BLOCK, GZIP_LEVEL, MAX_GZIP_LEVEL, deterministic_gzip
from supplychain.build.layercache import LayerCache
from supplychain.errors import BuildError
from supplychain.image.descriptor import Descriptor, MediaType

DIR_MODE = 0o755

__all__ = ["GZIP_BLOCK", "GZIP_LEVEL", "MAX_GZIP_LEVEL", "Entry", "Layer", "deterministic_gzip", "directory",
           "file", "layer_from_tar", "make_layer", "tar_bytes"]


@dataclass(frozen=True)
class Entry:
    path: str                 # absolute path in the image, e.g. "/usr/local/bin/hello"
    mode: int
    data: bytes | None = None  # None for a directory (or a symlink with `link`)
    link: str | None = None
    uid: int = 0
    gid: int = 0

    @property
    def kind(self) -> str:
        if self.link is not None:
            return "symlink"
        return "dir" if self.data is None else "file"


def file(path: str, data: bytes, mode: int = 0o644) -> Entry:
    return Entry(path, mode, data)


def directory(path: str, mode: int = DIR_MODE) -> Entry:
    return Entry(path, mode)


@dataclass(frozen=True)
class Layer:
    """A gzip'd layer: its descriptor, the digest of the uncompressed tar (diff_id), its bytes."""

    descriptor: Descriptor
    diff_id: str
    data: bytes
    paths: tuple[str, ...]
    reused: bool = False      # the gzip bytes came from the layer cache


def _clean(path: str) -> str:
    norm = posixpath.normpath("/" + path.lstrip("/"))
    if norm == "/" or ".." in norm.split("/"):
        raise BuildError(f"bad path for an image layer: {path!r}", expected="an absolute file path")
    return norm


def tar_bytes(entries: Iterable[Entry], mtime: int) -> tuple[bytes, tuple[str, ...]]:
    """The uncompressed tar (and its sorted path list) of `entries` plus missing parent dirs."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        path = _clean(entry.path)
        if path in by_path:
            raise BuildError(f"{path} is added twice to one layer")
        by_path[path] = Entry(path, entry.mode, entry.data, entry.link, entry.uid, entry.gid)
    for path in list(by_path):
        parent = posixpath.dirname(path)
        while parent != "/" and parent not in by_path:
            by_path[parent] = directory(parent)
            parent = posixpath.dirname(parent)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(by_path):
            entry = by_path[path]
            info = tarfile.TarInfo(path.lstrip("/") + ("/" if entry.kind == "dir" else ""))
            info.mode = entry.mode
            info.mtime = mtime
            info.uid, info.gid = entry.uid, entry.gid
            info.uname = info.gname = ""
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry.link or ""
                tar.addfile(info)
            else:
                assert entry.data is not None
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
    return buf.getvalue(), tuple(sorted(by_path))


def make_layer(entries: Iterable[Entry], mtime: int, level: int = GZIP_LEVEL,
               cache: LayerCache | None = None) -> Layer:
    """The layer of `entries`; with `cache`, the gzip bytes of an identical earlier layer are
    reused (they are the bytes compressing would give: see supplychain.build.layercache)."""
    raw, paths = tar_bytes(entries, mtime)
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    compressed = cache.get(diff_id, level, GZIP_BLOCK) if cache is not None else None
    reused = compressed is not None
    if compressed is None:
        compressed = deterministic_gzip(raw, level)
        if cache is not None:
            cache.put(diff_id, level, GZIP_BLOCK, compressed)
    return Layer(Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, compressed), diff_id, compressed, paths,
                 reused)


def layer_from_tar(raw: bytes, level: int = GZIP_LEVEL) -> Layer:
    """Compress an existing uncompressed layer tar (from `docker save`) deterministically."""
    compressed = deterministic_gzip(raw, level)
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    return Layer(Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, compressed), diff_id, compressed, ())
