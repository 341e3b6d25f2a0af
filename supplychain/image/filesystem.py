"""Read an image's file system from its layers without extracting anything to disk.

Layers are streamed (gzip, zstd or plain tar) in order; OCI whiteouts (`.wh.<name>` and
`.wh..wh..opq`) are applied; paths are normalised and never touch the host file system. Only
files a caller asks for (`want_content`) have their bytes kept, each up to a size cap.

Decompression is bounded (`LayerLimits`): bytes per layer, bytes per image, and the ratio of
decompressed to compressed bytes, so a gzip bomb is refused after a fraction of a second. The
limits come from the environment (SCCHECK_MAX_LAYER_BYTES, SCCHECK_MAX_IMAGE_BYTES,
SCCHECK_MAX_LAYER_RATIO) unless a caller passes its own.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import zstandard

from supplychain.errors import ImageError
from supplychain.image.descriptor import Descriptor
from supplychain.image.store import ContentStore
from supplychain.image.view import open_image

MAX_LAYER_ENTRIES = 500_000
DEFAULT_CONTENT_CAP = 8 * 1024 * 1024
_READ = 1 << 20
_RATIO_FLOOR = 64 << 20  # the ratio check starts after this many decompressed bytes
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"\xfd7zXZ\x00": "xz", b"BZh": "bzip2",
          b"\x04\x22\x4d\x18": "lz4"}


def _env_size(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) <= 0:
        raise ImageError(f"{name} must be a positive number of bytes", found=value[:40])
    return int(value)


@dataclass(frozen=True)
class LayerLimits:
    """Caps on decompressed layer bytes: per layer, per image, and per compressed byte."""

    per_layer: int = 8 << 30
    per_image: int = 32 << 30
    ratio: int = 50

    @classmethod
    def from_env(cls) -> LayerLimits:
        return cls(_env_size("SCCHECK_MAX_LAYER_BYTES", cls.per_layer),
                   _env_size("SCCHECK_MAX_IMAGE_BYTES", cls.per_image),
                   _env_size("SCCHECK_MAX_LAYER_RATIO", cls.ratio))


class ImageBudget:
    """Decompressed bytes of one image, counted once per layer however often a layer is read."""

    def __init__(self, limits: LayerLimits | None = None) -> None:
        self.limits = limits or LayerLimits.from_env()
        self._per_layer: dict[int, int] = {}

    def charge(self, index: int, total_in_layer: int) -> None:
        self._per_layer[index] = max(self._per_layer.get(index, 0), total_in_layer)
        total = sum(self._per_layer.values())
        if total > self.limits.per_image:
            raise ImageError(f"the image decompresses to more than {self.limits.per_image} bytes "
                             f"(reached in layer {index})",
                             expected=f"at most {self.limits.per_image} bytes (SCCHECK_MAX_IMAGE_BYTES)",
                             found=f"more than {total} bytes",
                             fix="if the image is really this large, raise SCCHECK_MAX_IMAGE_BYTES")


class _CappedReader(io.RawIOBase):
    """A decompressing reader that refuses to produce more than the limits allow."""

    def __init__(self, source: Any, index: int, compressed: int, kind: str, budget: ImageBudget) -> None:
        self._source, self._index, self._kind, self._budget = source, index, kind, budget
        self._compressed = compressed
        limits = budget.limits
        self._cap = limits.per_layer
        self._ratio_cap = max(_RATIO_FLOOR, compressed * limits.ratio) if kind != "tar" else None
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._source.read(min(len(buffer), _READ))
        size = len(chunk)
        buffer[:size] = chunk
        self.total += size
        if self.total > self._cap:
            raise ImageError(f"layer {self._index} decompresses to more than {self._cap} bytes",
                             expected=f"at most {self._cap} bytes per layer (SCCHECK_MAX_LAYER_BYTES)",
                             found=f"more than {self.total} bytes from {self._kind}",
                             fix="if the layer is really this large, raise SCCHECK_MAX_LAYER_BYTES")
        if self._ratio_cap is not None and self.total > self._ratio_cap:
            raise ImageError(f"layer {self._index} looks like a decompression bomb",
                             expected=f"at most {self._budget.limits.ratio} bytes per compressed byte "
                                      "(SCCHECK_MAX_LAYER_RATIO)",
                             found=f"more than {self.total} bytes from {self._compressed} compressed "
                                   f"{self._kind} bytes",
                             fix="do not use this image; raise SCCHECK_MAX_LAYER_RATIO if the layer is "
                                 "known to be this compressible")
        self._budget.charge(self._index, self.total)
        return size


def compression_of(data: bytes, media_type: str | None = None) -> str:
    """'gzip', 'zstd' or 'tar' by the bytes themselves; anything else is an error that names it."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            if kind in ("gzip", "zstd"):
                return kind
            raise ImageError(f"the layer is compressed with {kind}, which sccheck cannot read",
                             expected="a tar layer: uncompressed, gzip or zstd",
                             found=f"{kind} ({media_type or 'no media type'})",
                             fix="rebuild the image with gzip or zstd layers")
    if not data or data[257:262] == b"ustar" or not any(data[:512]):
        return "tar"
    suffix = (media_type or "").rsplit("+", 1)[-1] if "+" in (media_type or "") else ""
    if suffix and suffix not in ("gzip", "zstd"):
        raise ImageError(f"the layer's compression {suffix!r} is not one sccheck reads",
                         expected="a tar layer: uncompressed, gzip or zstd", found=str(media_type)[:200])
    return "tar"  # let tarfile say what is wrong with it


class _Inflate:
    """gzip members one after another, inflated on demand. The members' CRCs are not computed:
    the blob's digest is checked by the store, and skipping them makes refusing a bomb faster."""

    _FEED = 256 << 10

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0
        self._input = b""
        self._inflate = zlib.decompressobj(31)
        self._started = False

    def _more_input(self) -> bool:
        if self._pos >= len(self._view):
            return False
        self._input = bytes(self._view[self._pos:self._pos + self._FEED])
        self._pos += len(self._input)
        return True

    def read(self, size: int) -> bytes:
        while True:
            if not self._input and not self._more_input():
                if self._started and not self._inflate.eof:
                    raise EOFError("the gzip stream ends in the middle of a member")
                return b""
            if not self._started:  # between members: zero padding is allowed, as gzip allows it
                self._input = self._input.lstrip(b"\0")
                if not self._input:
                    continue
                self._started = True
            out = self._inflate.decompress(self._input, size)
            self._input = self._inflate.unconsumed_tail
            if self._inflate.eof:
                self._input = self._inflate.unused_data + self._input
                self._inflate, self._started = zlib.decompressobj(31), False
            if out:
                return out


def _decompressor(data: bytes, kind: str) -> Any:
    if kind == "gzip":
        return _Inflate(data)
    if kind == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    return io.BytesIO(data)


def open_layer(data: bytes, index: int = 0, *, media_type: str | None = None,
               budget: ImageBudget | None = None) -> tarfile.TarFile:
    """A streaming tar reader over one layer blob, decompressed within the limits."""
    kind = compression_of(data, media_type)
    reader = _CappedReader(_decompressor(data, kind), index, len(data), kind, budget or ImageBudget())
    return tarfile.open(fileobj=io.BufferedReader(reader, _READ), mode="r|", bufsize=_READ)


# What reading a damaged layer can raise, from tarfile and each decompressor.
LAYER_ERRORS: tuple[type[BaseException], ...] = (tarfile.TarError, EOFError, OSError, zlib.error,
                                                 gzip.BadGzipFile, zstandard.ZstdError)


@dataclass(frozen=True)
class FileEntry:
    path: str            # absolute, normalised: "/etc/passwd"
    kind: str            # "file" | "dir" | "symlink" | "hardlink" | "other"
    mode: int            # permission bits incl. setuid/setgid/sticky
    uid: int
    gid: int
    size: int
    linkname: str
    layer: int           # index of the layer that last wrote it


@dataclass
class ImageFilesystem:
    files: dict[str, FileEntry] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)

    def get(self, path: str) -> FileEntry | None:
        return self.files.get(normalise(path))

    def read(self, path: str) -> bytes | None:
        return self.contents.get(normalise(path))


def normalise(name: str) -> str:
    """`./a/../b` -> `/b`; never escapes `/`."""
    path = posixpath.normpath("/" + name.lstrip("/"))
    return "/" if path in ("/", "//") else path.rstrip("/")


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    return "other"


def apply_layer(fs: ImageFilesystem, index: int, data: bytes,
                want_content: Callable[[str], bool] | None = None,
                content_cap: int = DEFAULT_CONTENT_CAP, *, media_type: str | None = None,
                budget: ImageBudget | None = None) -> None:
    try:
        with open_layer(data, index, media_type=media_type, budget=budget) as tar:
            for count, member in enumerate(tar):
                if count >= MAX_LAYER_ENTRIES:
                    raise ImageError(f"layer {index} has more than {MAX_LAYER_ENTRIES} entries")
                path = normalise(member.name)
                base = posixpath.basename(path)
                parent = posixpath.dirname(path)
                if base == ".wh..wh..opq":
                    prefix = parent.rstrip("/") + "/"
                    for gone in [p for p in fs.files if p.startswith(prefix)]:
                        fs.files.pop(gone, None)
                        fs.contents.pop(gone, None)
                    continue
                if base.startswith(".wh."):
                    target = normalise(posixpath.join(parent, base[4:]))
                    for gone in [p for p in fs.files if p == target or p.startswith(target + "/")]:
                        fs.files.pop(gone, None)
                        fs.contents.pop(gone, None)
                    continue
                entry = FileEntry(path, _kind(member), member.mode, member.uid, member.gid,
                                  member.size, member.linkname, index)
                fs.files[path] = entry
                fs.contents.pop(path, None)
                if entry.kind == "file" and want_content is not None and want_content(path):
                    if member.size > content_cap:
                        raise ImageError(f"{path} in layer {index} is larger than {content_cap} bytes")
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        fs.contents[path] = extracted.read(content_cap + 1)[:content_cap]
    except LAYER_ERRORS as exc:
        raise ImageError(f"layer {index} is not a readable tar archive: {exc}") from None


def read_filesystem(layers: Iterable[bytes], want_content: Callable[[str], bool] | None = None,
                    content_cap: int = DEFAULT_CONTENT_CAP, *, media_types: Iterable[str | None] = (),
                    budget: ImageBudget | None = None) -> ImageFilesystem:
    fs = ImageFilesystem()
    budget = budget or ImageBudget()
    types = list(media_types)
    for index, data in enumerate(layers):
        media_type = types[index] if index < len(types) else None
        apply_layer(fs, index, data, want_content, content_cap, media_type=media_type, budget=budget)
    return fs


@dataclass(frozen=True)
class PlatformImage:
    """One platform's image manifest, parsed, with its config."""

    platform: str | None
    digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    layers: list[Descriptor]


def platform_images(store: ContentStore, identifier: str) -> list[PlatformImage]:
    """The runnable images under a tag or digest (THE rule of `supplychain.image.view`): one for
    a plain manifest, one per runnable child for an index."""
    view = open_image(store, store.resolve(identifier).digest)
    return [PlatformImage(str(image.platform) if image.platform else None, image.digest, image.manifest,
                          image.config(), image.layers()) for image in view.runnable()]


def image_filesystem(store: ContentStore, image: PlatformImage,
                     want_content: Callable[[str], bool] | None = None,
                     content_cap: int = DEFAULT_CONTENT_CAP) -> ImageFilesystem:
    return read_filesystem((store.read_blob(layer) for layer in image.layers), want_content, content_cap,
                           media_types=[layer.media_type for layer in image.layers])
