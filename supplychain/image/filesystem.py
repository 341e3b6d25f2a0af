"""Read an image's file system from its layers without extracting anything to disk.

Layers are streamed (gzip or plain tar) in order; OCI whiteouts (`.wh.<name>` and
`.wh..wh..opq`) are applied; paths are normalised and never touch the host file system. Only
files a caller asks for (`want_content`) have their bytes kept, each up to a size cap.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from supplychain.errors import ImageError
from supplychain.image.descriptor import Descriptor, MediaType, manifest_children, parse_manifest
from supplychain.image.store import ContentStore
from supplychain.strictdoc import load_json

MAX_LAYER_ENTRIES = 500_000
DEFAULT_CONTENT_CAP = 8 * 1024 * 1024


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


def _open_layer(data: bytes) -> tarfile.TarFile:
    raw: io.BufferedIOBase | gzip.GzipFile = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=io.BytesIO(data))
    return tarfile.open(fileobj=raw, mode="r|")


def apply_layer(fs: ImageFilesystem, index: int, data: bytes,
                want_content: Callable[[str], bool] | None = None,
                content_cap: int = DEFAULT_CONTENT_CAP) -> None:
    try:
        with _open_layer(data) as tar:
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
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise ImageError(f"layer {index} is not a readable tar archive: {exc}") from None


def read_filesystem(layers: Iterable[bytes], want_content: Callable[[str], bool] | None = None,
                    content_cap: int = DEFAULT_CONTENT_CAP) -> ImageFilesystem:
    fs = ImageFilesystem()
    for index, data in enumerate(layers):
        apply_layer(fs, index, data, want_content, content_cap)
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
    """Every platform image under a tag or digest (one for a plain manifest, N for an index)."""

    data, media_type, digest = store.read_manifest(identifier)
    doc = parse_manifest(data, media_type)
    targets: list[tuple[str | None, str, dict[str, Any]]] = []
    if doc["mediaType"] in MediaType.INDEXES:
        for child in manifest_children(doc):
            if child.media_type not in MediaType.MANIFESTS:
                continue
            if child.platform and child.platform.get("os") == "unknown":
                continue  # attestation manifests some builders put in indexes
            cdata, ctype, _ = store.read_manifest(child.digest)
            targets.append((child.platform_string, child.digest, parse_manifest(cdata, ctype)))
    else:
        targets.append((None, digest, doc))
    out = []
    for platform, mdigest, manifest in targets:
        config_desc = Descriptor.from_dict(manifest["config"])
        config = load_json(store.read_blob(config_desc), "image config")
        if platform is None and isinstance(config, dict) and config.get("os"):
            platform = f"{config.get('os')}/{config.get('architecture')}"
            if config.get("variant"):
                platform += f"/{config['variant']}"
        layers = [Descriptor.from_dict(layer) for layer in manifest.get("layers", [])]
        out.append(PlatformImage(platform, mdigest, manifest, config, layers))
    return out


def image_filesystem(store: ContentStore, image: PlatformImage,
                     want_content: Callable[[str], bool] | None = None,
                     content_cap: int = DEFAULT_CONTENT_CAP) -> ImageFilesystem:
    return read_filesystem((store.read_blob(layer) for layer in image.layers), want_content, content_cap)
