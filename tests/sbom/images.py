"""Test images for the SBOM tests: real `go build` binaries in OCI layouts written by our image layer.

Until `sccheck build` lands these helpers make the images: one gzip tar layer per entry list,
an OCI config with diff_ids and `created`, a manifest, and an index for several platforms.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.layout import OCILayout

CREATED = "2026-01-02T03:04:05Z"


@dataclass(frozen=True)
class Entry:
    path: str
    data: bytes | None = None        # None: a directory
    mode: int = 0o644
    symlink: str = ""


def go_build(src: Path, out: Path, *, ldflags: str = "", goarch: str = "amd64", trimpath: bool = True,
             extra_env: dict[str, str] | None = None, buildvcs: bool = False) -> Path:
    env = {**os.environ, "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": goarch,
           "GOFLAGS": f"-buildvcs={'true' if buildvcs else 'false'} -mod=readonly", **(extra_env or {})}
    argv = ["go", "build", "-o", str(out)]
    if trimpath:
        argv.append("-trimpath")
    if ldflags:
        argv.append(f"-ldflags={ldflags}")
    subprocess.run([*argv, "."], cwd=src, env=env, check=True, capture_output=True, text=True)
    return out


def tar_layer(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.path.lstrip("/"))
            info.mode = e.mode
            info.mtime = 0
            if e.symlink:
                info.type = tarfile.SYMTYPE
                info.linkname = e.symlink
                tar.addfile(info)
            elif e.data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
    return buf.getvalue()


@dataclass
class PlatformSpec:
    arch: str
    layers: list[list[Entry]]
    entrypoint: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=lambda: ["PATH=/usr/local/bin:/usr/bin:/bin"])


def _write_platform(layout: OCILayout, spec: PlatformSpec) -> Descriptor:
    layer_descs, diff_ids = [], []
    for entries in spec.layers:
        raw = tar_layer(entries)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        blob = gzip.compress(raw, mtime=0)
        layer_descs.append(layout.write_blob(blob, Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, blob)))
    config = canonical_json({
        "created": CREATED, "architecture": spec.arch, "os": "linux",
        "config": {"Entrypoint": spec.entrypoint, "Env": spec.env},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    config_desc = layout.write_blob(config, Descriptor.for_bytes(MediaType.OCI_CONFIG, config))
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "config": config_desc.to_dict(),
        "layers": [d.to_dict() for d in layer_descs],
    })
    desc = layout.write_blob(manifest, Descriptor.for_bytes(MediaType.OCI_MANIFEST, manifest))
    return Descriptor(MediaType.OCI_MANIFEST, desc.digest, desc.size,
                      platform={"os": "linux", "architecture": spec.arch})


def write_image(directory: Path, platforms: list[PlatformSpec], tag: str = "latest") -> str:
    """Write the image into an OCI layout; returns the digest of the manifest (or of the index)."""
    with OCILayout.transaction(directory) as layout:
        descs = [_write_platform(layout, spec) for spec in platforms]
        if len(descs) == 1:
            blob = layout.read_blob(descs[0])
            return layout.write_manifest(blob, MediaType.OCI_MANIFEST, tag)
        index = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX,
                                "manifests": [d.to_dict() for d in descs]})
        return layout.write_manifest(index, MediaType.OCI_INDEX, tag)


def binary_image(directory: Path, binary: Path, *, arch: str = "amd64", base: list[Entry] | None = None,
                 at: str = "/app/server") -> str:
    layers = [base] if base else []
    layers.append([Entry(at.rsplit("/", 1)[0], None, 0o755), Entry(at, binary.read_bytes(), 0o755)])
    return write_image(directory, [PlatformSpec(arch, layers, entrypoint=[at])])


ALPINE_INSTALLED = """\
C:Q1abcabcabcabcabcabcabcabcabcab=
P:musl
V:1.2.5-r0
A:x86_64
S:409329
I:651264
T:the musl c library (libc) implementation
L:MIT
o:musl
D:

C:Q1defdefdefdefdefdefdefdefdefde=
P:busybox
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox
D:so:libc.musl-x86_64.so.1 musl>=1.2

C:Q1ghighighighighighighighighighi=
P:ca-certificates-bundle
V:20240705-r0
A:x86_64
L:MPL-2.0 AND MIT
o:ca-certificates
"""

ALPINE_OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n'

DPKG_STATUS = """\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u8
Depends: libgcc-s1
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs.

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
Depends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)

Package: oldpkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
"""

DPKG_STATUS_D_BASE_FILES = """\
Package: base-files
Version: 12.4+deb12u7
Architecture: amd64
Maintainer: Santiago Vila <sanvila@debian.org>
"""

DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


def alpine_base() -> list[Entry]:
    return [Entry("/etc", None, 0o755), Entry("/etc/os-release", ALPINE_OS_RELEASE.encode()),
            Entry("/lib/apk/db", None, 0o755), Entry("/lib/apk/db/installed", ALPINE_INSTALLED.encode()),
            Entry("/bin/busybox", b"#!not really busybox\n" * 100, 0o755),
            Entry("/bin/sh", symlink="/bin/busybox")]


def debian_base() -> list[Entry]:
    return [Entry("/usr/lib/os-release", DEBIAN_OS_RELEASE.encode()),
            Entry("/var/lib/dpkg/status", DPKG_STATUS.encode()),
            Entry("/var/lib/dpkg/status.d/base-files", DPKG_STATUS_D_BASE_FILES.encode()),
            Entry("/var/lib/dpkg/status.d/base-files.md5sums", b"0123  /etc/debian_version\n")]
