"""Hostile images and a CLI runner for the hostile tests (test-only).

`layout_with_layers` writes an OCI layout whose layers are given as raw blobs with media types,
so a test can hand sccheck a gzip bomb, a zstd layer, an xz layer or a tar with escaping entries.
`run` calls the CLI in-process and checks the contract on every call: an exit code sccheck
documents, no traceback, and with --json exactly one JSON document on stdout.
"""

from __future__ import annotations

import io
import json
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from supplychain.cli import cli
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.layout import OCILayout

GZIP = MediaType.OCI_LAYER_GZIP
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def tar_of(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size, info.mode = len(entry[1]), 0o644
                tar.addfile(info, io.BytesIO(entry[1]))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def gzip_bomb(size: int) -> bytes:
    """A gzip'd tar holding one file of `size` zero bytes, made without holding it in memory."""
    header = tarfile.TarInfo("zeros")
    header.size = size
    head = header.tobuf(format=tarfile.PAX_FORMAT)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [packer.compress(head)]
    block = bytes(16 << 20)
    left = size
    while left > 0:
        piece = block if left >= len(block) else bytes(left)
        out.append(packer.compress(piece))
        left -= len(piece)
    out.append(packer.compress(bytes(-size % 512 + 1024)))
    out.append(packer.flush())
    return b"".join(out)


def layout_with_layers(path: Path, layers: list[tuple[bytes, str]], config: dict[str, Any] | None = None
                       ) -> str:
    """An OCI layout at `path` tagged `latest`, with these (blob, media type) layers."""
    image_config = {"architecture": "amd64", "os": "linux",
                    "config": config or {"User": "65532:65532", "Entrypoint": ["/app"]},
                    "rootfs": {"type": "layers", "diff_ids": [Descriptor.for_bytes("x", b).digest
                                                               for b, _ in layers]}}
    with OCILayout.transaction(path) as layout:
        descs = [layout.write_blob(blob, Descriptor.for_bytes(kind, blob)) for blob, kind in layers]
        raw_config = canonical_json(image_config)
        config_desc = layout.write_blob(raw_config, Descriptor.for_bytes(MediaType.OCI_CONFIG, raw_config))
        manifest = {"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "config": config_desc.to_dict(),
                    "layers": [d.to_dict() for d in descs]}
        return layout.write_manifest(canonical_json(manifest), MediaType.OCI_MANIFEST, "latest")


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> Any:
        return json.loads(self.stdout)


def run(args: list[str], env: dict[str, str] | None = None, allowed: tuple[int, ...] = (0, 1, 2, 3)
        ) -> Outcome:
    """The CLI in this process, with the contract checked on every exit path."""
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=True)
    out = Outcome(result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert out.code in allowed, (out.code, args, out.stderr[-2000:])
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr, out.stderr[-2000:]
    if "--json" in args:
        doc = json.loads(out.stdout)  # exactly one document: json.loads refuses trailing data
        assert isinstance(doc, dict) and "ok" in doc, out.stdout[:500]
        assert doc["ok"] is (out.code == 0), (doc.get("ok"), out.code)
    return out
