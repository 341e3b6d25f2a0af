"""Make OCI layouts directly (tar layers, config, manifest) for the hardening tests.

`clean_image()` is a "static-like" image: the real hello binary (go build, CGO_ENABLED=0), an
/etc/passwd with nonroot 65532, the machine's CA bundle, /tmp 1777, user 65532:65532 and a base
digest label. Tests derive deliberately bad images from it, one defect each.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.layout import OCILayout

ROOT = Path(__file__).resolve().parents[2]
BASE_DIGEST = "sha256:" + "ab" * 32
PASSWD = b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
GROUP = b"root:x:0:\nnonroot:x:65532:\n"


@dataclass
class Entry:
    path: str
    data: bytes | None = None        # None: a directory (or a symlink when link is set)
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    link: str = ""


@dataclass
class ImageSpec:
    layers: list[list[Entry]]
    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)

    def copy(self) -> ImageSpec:
        return copy.deepcopy(self)


def build_hello(out_dir: Path) -> bytes:
    """The real example service, built static."""
    binary = out_dir / "hello"
    env = {"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
    import os

    subprocess.run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), "."],
                   cwd=ROOT / "examples" / "hello", env={**os.environ, **env}, check=True,
                   capture_output=True, timeout=600)
    return binary.read_bytes()


def clean_image(binary: bytes) -> ImageSpec:
    certs = Path("/etc/ssl/certs/ca-certificates.crt").read_bytes()
    base = [Entry("etc", mode=0o755), Entry("etc/passwd", PASSWD), Entry("etc/group", GROUP),
            Entry("etc/ssl", mode=0o755), Entry("etc/ssl/certs", mode=0o755),
            Entry("etc/ssl/certs/ca-certificates.crt", certs),
            Entry("home", mode=0o755), Entry("home/nonroot", mode=0o700, uid=65532, gid=65532),
            Entry("tmp", mode=0o1777)]
    app = [Entry("app", mode=0o755), Entry("app/hello", binary, mode=0o755)]
    config = {"User": "65532:65532", "Entrypoint": ["/app/hello"], "WorkingDir": "/",
              "ExposedPorts": {"8080/tcp": {}},
              "Env": ["PATH=/usr/local/bin:/usr/bin:/bin",
                      "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
              "Labels": {"org.opencontainers.image.base.digest": BASE_DIGEST,
                         "org.opencontainers.image.base.name": "example.test/static:nonroot"}}
    history = [{"created_by": "static base"}, {"created_by": "COPY hello /app/hello"}]
    return ImageSpec([base, app], config, history)


def make_layer(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.path)
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, 0
            if e.link:
                info.type, info.linkname = tarfile.SYMTYPE, e.link
                tar.addfile(info)
            elif e.data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
    return buf.getvalue()


def write_image(path: Path, spec: ImageSpec, tag: str = "latest") -> str:
    """Write `spec` as an OCI layout at `path`; returns the manifest digest."""
    raw_layers = [make_layer(entries) for entries in spec.layers]
    config = {"architecture": "amd64", "os": "linux", "config": spec.config,
              "rootfs": {"type": "layers",
                         "diff_ids": ["sha256:" + hashlib.sha256(r).hexdigest() for r in raw_layers]},
              "history": spec.history}
    with OCILayout.transaction(path) as layout:
        layer_descs = []
        for raw in raw_layers:
            blob = gzip.compress(raw, compresslevel=1, mtime=0)
            layer_descs.append(layout.write_blob(blob, Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, blob)))
        config_bytes = canonical_json(config)
        config_desc = layout.write_blob(config_bytes,
                                        Descriptor.for_bytes(MediaType.OCI_CONFIG, config_bytes))
        manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                                    "config": config_desc.to_dict(),
                                    "layers": [d.to_dict() for d in layer_descs]}
        if spec.annotations:
            manifest["annotations"] = spec.annotations
        return layout.write_manifest(canonical_json(manifest), MediaType.OCI_MANIFEST, tag)
