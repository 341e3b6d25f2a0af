"""Find the Go programs and OS packages of one platform image, reading its layers in memory.

Two streaming passes over the layers (nothing is extracted to disk): the first lists the file
system; the second keeps the bytes of the entrypoint, of other executable files (bounded in
count and size) and of the OS package databases. Each kept file starting with the ELF magic is
checked for Go build info.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supplychain.errors import SbomError
from supplychain.image.filesystem import (
    ImageFilesystem,
    PlatformImage,
    image_filesystem,
    normalise,
    read_filesystem,
)
from supplychain.image.store import ContentStore
from supplychain.progress import Progress, SilentProgress
from supplychain.sbom.buildinfo import ELF_MAGIC, MAGIC, read_buildinfo
from supplychain.sbom.model import GoProgram, program_from_binary
from supplychain.sbom.ospkgs import OsPackage, is_os_db_path, os_packages, read_os_release

MAX_BINARY_BYTES = 512 * 1024 * 1024     # larger executables are not read
MAX_CANDIDATES = 256                      # executables read per image
MAX_CANDIDATE_BYTES = 2 * 1024 * 1024 * 1024
MIN_BINARY_BYTES = 1024
MAX_CACHED_LAYERS = 1024 * 1024 * 1024   # compressed layers kept in memory between the two passes


@dataclass(frozen=True)
class ImageContents:
    programs: tuple[GoProgram, ...]
    os_packages: tuple[OsPackage, ...]
    executables_skipped: int      # over the count or size bounds
    os_release: tuple[str, str] | None = None


def _resolve_link(fs: ImageFilesystem, path: str) -> str | None:
    for _ in range(16):
        entry = fs.get(path)
        if entry is None:
            return None
        if entry.kind == "symlink":
            path = normalise(posixpath.join(posixpath.dirname(path), entry.linkname)
                             if not entry.linkname.startswith("/") else entry.linkname)
            continue
        if entry.kind == "hardlink":
            path = normalise(entry.linkname)
            continue
        return path if entry.kind == "file" else None
    return None


def entrypoint_paths(fs: ImageFilesystem, config: dict[str, Any]) -> list[str]:
    """Files the config's Entrypoint (else Cmd) runs, resolved through PATH and symlinks."""
    cfg = config.get("config") or {}
    argv = cfg.get("Entrypoint") or cfg.get("Cmd") or []
    if not isinstance(argv, list) or not argv or not isinstance(argv[0], str):
        return []
    program = argv[0]
    env = dict(e.split("=", 1) for e in cfg.get("Env") or [] if isinstance(e, str) and "=" in e)
    if program.startswith("/"):
        candidates = [program]
    elif "/" in program:
        candidates = [posixpath.join(cfg.get("WorkingDir") or "/", program)]
    else:
        search = env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        candidates = [posixpath.join(d or "/", program) for d in search.split(":")]
    out = []
    for candidate in candidates:
        real = _resolve_link(fs, normalise(candidate))
        if real is not None:
            out.append(real)
            break
    return out


def _select(fs: ImageFilesystem, config: dict[str, Any]) -> tuple[list[str], int]:
    first = entrypoint_paths(fs, config)
    others = sorted(
        p for p, e in fs.files.items()
        if e.kind == "file" and e.mode & 0o111 and e.size >= MIN_BINARY_BYTES and p not in first
    )
    chosen: list[str] = []
    total = skipped = 0
    for path in first + others:
        size = fs.files[path].size
        if size > MAX_BINARY_BYTES or len(chosen) >= MAX_CANDIDATES or total + size > MAX_CANDIDATE_BYTES:
            skipped += 1
            continue
        chosen.append(path)
        total += size
    return chosen, skipped


def scan_image(store: ContentStore, image: PlatformImage,
               progress: Progress | None = None) -> ImageContents:
    progress = progress or SilentProgress()
    # Fetch (and verify) each layer once when the image is of a reasonable size; else read twice.
    blobs = ([store.read_blob(layer) for layer in image.layers]
             if sum(layer.size for layer in image.layers) <= MAX_CACHED_LAYERS else None)
    types = [layer.media_type for layer in image.layers]
    listing = (read_filesystem(blobs, media_types=types) if blobs is not None
               else image_filesystem(store, image))
    executables, skipped = _select(listing, image.config)
    wanted = set(executables) | {p for p in listing.files if is_os_db_path(p)}
    progress.info(f"{image.platform or 'image'}: reading {len(executables)} executable(s)")
    if blobs is not None:
        fs = read_filesystem(blobs, want_content=wanted.__contains__, content_cap=MAX_BINARY_BYTES,
                             media_types=types)
    else:
        fs = image_filesystem(store, image, want_content=wanted.__contains__, content_cap=MAX_BINARY_BYTES)
    programs = []
    raw_labels = (image.config.get("config") or {}).get("Labels") if isinstance(image.config, dict) else None
    labels = {str(k): str(v) for k, v in raw_labels.items()} if isinstance(raw_labels, dict) else {}
    for path in executables:
        data = fs.read(path)
        if data is None or data[:4] != ELF_MAGIC or MAGIC not in data:
            continue
        info = read_buildinfo(data, f"{path} in the image")
        programs.append(program_from_binary(info, data, path, labels))
    packages = os_packages(list(fs.files), fs.read)
    release = read_os_release(fs.read)
    distro = (release["ID"], release.get("VERSION_ID", "")) if release.get("ID") else None
    return ImageContents(tuple(programs), tuple(packages), skipped, distro)


def image_created(config: dict[str, Any]) -> datetime | None:
    created = config.get("created")
    if not isinstance(created, str):
        return None
    try:
        return datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise SbomError("the image config has a malformed 'created' time", expected="RFC 3339",
                        found=created[:80]) from None
