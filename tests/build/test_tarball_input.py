"""A `build --tarball` file is an input of sbom, harden check and copy as oci-archive:FILE."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from tests.conftest import EXAMPLES


def test_a_build_tarball_feeds_sbom_harden_and_copy(sccheck, tmp_path: Path) -> None:
    tar = tmp_path / "hello.tar"
    built = sccheck("--json", "build", str(EXAMPLES / "hello"), "--base", "scratch", "--tarball", str(tar),
                    "--version", "1.0.0")
    assert built.returncode == 0, built.stderr
    digest = json.loads(built.stdout)["digest"]
    sbom = sccheck("--json", "sbom", f"oci-archive:{tar}", "--output", str(tmp_path / "s.json"))
    assert sbom.returncode == 0, sbom.stderr
    assert json.loads(sbom.stdout)["sboms"][0]["digest"] == digest
    harden = sccheck("--json", "harden", "check", f"oci-archive:{tar}@{digest}")
    assert harden.returncode == 0, harden.stderr
    copy = sccheck("--json", "copy", f"oci-archive:{tar}", f"oci:{tmp_path / 'copy'}:v1")
    assert copy.returncode == 0, copy.stderr
    assert json.loads(copy.stdout)["reference"].endswith("@" + digest)
    # an archive with a name outside an OCI layout is refused, not unpacked
    evil = tmp_path / "evil.tar"
    with tarfile.open(tar) as src, tarfile.open(evil, "w") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member))
        extra = tarfile.TarInfo("../escape")
        dst.addfile(extra)
    bad = sccheck("sbom", f"oci-archive:{evil}")
    assert bad.returncode != 0 and "not part of an OCI layout" in bad.stderr
    assert not (tmp_path.parent / "escape").exists()


def test_a_malformed_archive_digest_is_a_usage_error_before_unpacking(sccheck, tmp_path: Path) -> None:
    proc = sccheck("--json", "copy", "oci-archive:/etc/passwd@sha256:zz", f"oci:{tmp_path / 'out'}")
    assert proc.returncode == 2, proc.stdout
    assert "malformed digest" in json.loads(proc.stdout)["message"]
    assert not (tmp_path / "out").exists()
