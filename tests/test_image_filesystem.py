"""Layer reading: whiteouts, path normalisation, content caps; nothing is extracted."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from supplychain.errors import ImageError
from supplychain.image.filesystem import normalise, read_filesystem


def _layer(entries: list[tuple[str, bytes | None, int]], gz: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def test_whiteouts_and_content() -> None:
    base = _layer([("etc/", None, 0o755), ("etc/passwd", b"root:x:0:0\n", 0o644),
                   ("bin/", None, 0o755), ("bin/sh", b"ELF", 0o755), ("opt/a/x", b"1", 0o644)])
    top = _layer([("bin/.wh.sh", b"", 0o644), ("opt/a/.wh..wh..opq", b"", 0o644),
                  ("opt/a/y", b"2", 0o4755)], gz=False)
    fs = read_filesystem([base, top], want_content=lambda p: p == "/etc/passwd")
    assert fs.get("/bin/sh") is None
    assert fs.get("/opt/a/x") is None
    entry = fs.get("opt/a/y")
    assert entry is not None and entry.mode == 0o4755 and entry.layer == 1
    assert fs.read("/etc/passwd") == b"root:x:0:0\n"
    assert fs.read("/opt/a/y") is None


def test_paths_cannot_escape_root() -> None:
    fs = read_filesystem([_layer([("../../etc/shadow", b"x", 0o600)])])
    assert list(fs.files) == ["/etc/shadow"]
    assert normalise("./a/../../b/") == "/b"


def test_content_cap_and_garbage() -> None:
    with pytest.raises(ImageError, match="larger than"):
        read_filesystem([_layer([("big", b"x" * 100, 0o644)])], want_content=lambda p: True, content_cap=10)
    with pytest.raises(ImageError, match="not a readable tar"):
        read_filesystem([b"\x1f\x8bgarbage"])
