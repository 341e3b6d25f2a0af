"""Interop with an independent client: crane (go-containerregistry) makes a real image, we copy
it between registries, crane validates every layer and the config of the copy."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
import uuid
from pathlib import Path

from supplychain.copy import copy_image
from supplychain.image.descriptor import MediaType
from supplychain.image.reference import parse_image_ref
from supplychain.registry import RegistryOptions, open_repository
from supplychain.tools import find_tool


def crane(*args: str) -> str:
    binary = find_tool("crane")
    assert binary, "crane is missing from the pinned tools"
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def layer(path: Path) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = b"hello from sccheck\n"
        info = tarfile.TarInfo("app/hello.txt")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return path


def test_crane_made_image_copied_and_validated(tmp_path: Path, registry, referrers_registry) -> None:
    src_ref = registry.ref(f"interop/src-{uuid.uuid4().hex[:8]}", "v1")
    crane("append", "-f", str(layer(tmp_path / "layer.tgz")), "-t", src_ref)
    src = open_repository(parse_image_ref(src_ref), RegistryOptions())
    dst_ref = referrers_registry.ref(f"interop/dst-{uuid.uuid4().hex[:8]}", "v1")
    dst = open_repository(parse_image_ref(dst_ref), RegistryOptions())
    result = copy_image(src, "v1", dst, "v1")
    assert result.media_type == MediaType.DOCKER_MANIFEST
    assert result.blobs_copied == 2 and result.manifests_copied == 1
    assert crane("digest", src_ref) == crane("digest", dst_ref) == result.digest
    crane("validate", "--remote", dst_ref)
    assert crane("ls", dst_ref.rsplit(":", 1)[0]) == "v1"
