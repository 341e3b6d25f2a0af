"""Hostile archives (our own unpacking; no services): names outside the layout, links, a
second entry of one name, a blob that does not hash to its name - each refused with the reason,
nothing written outside the private directory."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from supplychain.bundle import Pins, verify_archive
from supplychain.errors import ImageError, VerificationFailed


def _tar(path: Path, entries: list[tuple[str, bytes | None]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
                continue
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


BLOB = b"layer"
NAME = f"blobs/sha256/{hashlib.sha256(BLOB).hexdigest()}"


@pytest.mark.parametrize(("entries", "error", "reason"), [
    ([("../escape", b"x")], ImageError, "not part of an OCI layout"),
    ([("blobs/sha256/../../escape", b"x")], ImageError, "not part of an OCI layout"),
    ([(NAME, None)], ImageError, "not part of an OCI layout"),
    ([(NAME, BLOB), (NAME, BLOB)], VerificationFailed, "twice"),
    ([(NAME, b"other bytes")], VerificationFailed, "does not match its digest"),
    ([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", b'{"manifests":[]}')], ImageError,
     "not an sccheck bundle"),
])
def test_a_hostile_archive_is_refused(tmp_path: Path, entries: list[tuple[str, bytes | None]],
                                      error: type[Exception], reason: str) -> None:
    archive = _tar(tmp_path / "bad.tar", entries)
    with pytest.raises(error, match=reason):
        verify_archive(f"oci-archive:{archive}", Pins(trust_file="unused.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar"]


def _cut(path: Path, entries: list[tuple[str, bytes | None]], keep: int) -> Path:
    whole = _tar(path, entries).read_bytes()
    path.write_bytes(whole[:keep])
    return path


@pytest.mark.parametrize(("name", "keep"), [
    ("mid-member", 2000),           # a header, then 1,488 of 5,000 bytes
    ("mid-header", 512 + 5120 + 100),  # the second header cut short
])
def test_a_truncated_archive_is_refused_through_the_cli(sccheck, tmp_path: Path, name: str,
                                                         keep: int) -> None:
    data = b"A" * 5000
    entries: list[tuple[str, bytes | None]] = [(f"blobs/sha256/{hashlib.sha256(data).hexdigest()}", data),
                                                ("oci-layout", b"{}")]
    archive = _cut(tmp_path / "cut.tar", entries, keep)
    policy = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"
    for args in (["verify", f"oci-archive:{archive}", "--policy", str(policy)],
                 ["bundle", "import", str(archive), f"oci:{tmp_path / 'dst'}", "--policy", str(policy)]):
        proc = sccheck("--json", *args)
        assert proc.returncode in (1, 2, 3), proc.stderr
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["ok"] is False, doc
        # cut inside a member: named so; cut at a header, tar reads a shorter archive, refused for
        # what it then lacks
        assert ("truncated" in doc["message"]) is (name == "mid-member"), doc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.tar"]
