"""`sccheck rescan IMAGE --vuln-db SNAPSHOT`: a fresh vulnerability result for an image that is
already built, signed and shipped, against a newer database - so a policy's `maxAge` on the
vulnerability scan can be met at a site without rebuilding (and without network, when the
database snapshot travelled in a bundle).

For each runnable image (every platform of an index), the program the image starts is read from
its layers and scanned by govulncheck in binary mode (the same runner `sccheck check` uses);
the cosign vuln/v1 result and an OpenVEX document (when there is a vulnerability to state) are
attested about that platform, laid out as
every per-platform attestation is (subjects: the index and that child, attached to both).
"""

from __future__ import annotations

import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.bundle import is_archive
from supplychain.errors import AnalyzerError, UsageError
from supplychain.image.reference import parse_image_ref
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions

MAX_DB_BYTES = 2 << 30


@dataclass(frozen=True)
class Signing:
    trust_config: str | None = None
    identity_token: str | None = None
    key: str | None = None
    key_password: str | None = None
    rekor_url: str | None = None


@dataclass(frozen=True)
class PlatformRescan:
    platform: str | None
    digest: str
    binary: str
    vulnerabilities: int
    reachable: int
    attestations: tuple[str, ...]     # referrer digests of the vuln (and OpenVEX) statements

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "digest": self.digest, "binary": self.binary,
                "vulnerabilities": self.vulnerabilities, "reachable": self.reachable,
                "attestations": list(self.attestations)}


@dataclass(frozen=True)
class RescanResult:
    reference: str
    digest: str
    db: str
    platforms: tuple[PlatformRescan, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "reference": self.reference, "digest": self.digest, "db": self.db,
                "platforms": [p.to_dict() for p in self.platforms]}


def _unpack_db(snapshot: Path, into: Path) -> Path:
    """A database snapshot as a tar (what `bundle export --vuln-db DIR` carries) unpacked with
    only regular files and directories, within a size bound."""
    total = 0
    try:
        with tarfile.open(snapshot) as tar:
            members = []
            for member in tar:
                if not (member.isreg() or member.isdir()):
                    raise UsageError(f"{snapshot} holds {member.name[:100]!r}, not a file or directory")
                total += member.size
                if total > MAX_DB_BYTES:
                    raise UsageError(f"{snapshot} is larger than {MAX_DB_BYTES} bytes unpacked")
                members.append(member)
            tar.extractall(into, members=members, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise UsageError(f"cannot read the database snapshot {snapshot}: {exc}",
                         expected="a Go vulnerability database directory, or a tar of one") from None
    return into


def _from_bundle(image: str, tmp: Path) -> Path:
    """The database snapshot a bundle carries (`oci-archive:release.tar`), checked like the
    rest of the bundle (every blob against its digest)."""
    from supplychain.bundle import archive_path, open_archive

    with open_archive(archive_path(image)) as archive:
        data = archive.layer(archive.contents.get("vulnDb"))
    if data is None:
        raise UsageError(f"{image} carries no vulnerability database",
                         fix="export the bundle with --vuln-db DIR, or pass a database directory")
    out = tmp / "vulndb.tar"
    out.write_bytes(data)
    return out


def rescan_image(image: str, vuln_db: str, *, signing: Signing | None = None,
                 registry_options: RegistryOptions | None = None,
                 progress: Progress | None = None) -> RescanResult:
    from supplychain.analyzers import CheckRequest, check
    from supplychain.analyzers.govulncheck import normalize_db
    from supplychain.attest.openvex import openvex_predicate
    from supplychain.attest.vocabulary import COSIGN_VULN, OPENVEX
    from supplychain.attest.vuln import vuln_predicate
    from supplychain.harden.binscan import read_entrypoint_binary
    from supplychain.image.filesystem import platform_images
    from supplychain.signing.api import attest_image
    from supplychain.stores import open_store
    from supplychain.verify import resolve_once

    progress = progress or SilentProgress()
    signing = signing or Signing()
    ref = parse_image_ref(image)
    store = open_store(ref, registry_options)
    digest = resolve_once(store, ref)
    pinned = ref.with_digest(digest)
    images = platform_images(store, digest)
    is_index = len(images) > 1 or bool(images and images[0].digest != digest)
    out: list[PlatformRescan] = []
    with tempfile.TemporaryDirectory(prefix="sccheck-rescan-") as tmp:
        snapshot = _from_bundle(vuln_db, Path(tmp)) if is_archive(vuln_db) else Path(vuln_db)
        db = str(_unpack_db(snapshot, Path(tmp) / "db") if snapshot.is_file() else snapshot)
        normalize_db(db)   # refuses what is not a Go vulnerability database, naming what it expected
        for img in images:
            progress.step("rescan", f"{img.platform or 'image'} {img.digest[:19]}")
            path, data = read_entrypoint_binary(store, img)
            binary = Path(tmp) / f"bin-{img.digest[7:19]}"
            binary.write_bytes(data)
            result = check(CheckRequest(path=binary, tools=("vuln",), vuln_db=db), progress)
            vuln = vuln_predicate(result)
            vex = openvex_predicate(result, product=f"{ref.name}@{img.digest}")
            if vuln is None:
                run = result.run("vuln")
                raise AnalyzerError(f"govulncheck could not scan {path} of {img.platform or 'the image'}",
                                    found=str(run.error or run.status) if run else "no run",
                                    fix="check the database snapshot (sccheck check --vuln-db DIR BINARY)")
            platform = img.platform if is_index else None
            made = [attest_image(pinned, ptype, predicate, platform=platform,
                                 trust_config=signing.trust_config,
                                 identity_token=signing.identity_token, key=signing.key,
                                 key_password=signing.key_password, rekor_url=signing.rekor_url,
                                 registry_options=registry_options, progress=progress).referrer_digest
                    for ptype, predicate in ((COSIGN_VULN, vuln), (OPENVEX, vex)) if predicate is not None]
            found = vuln["scanner"]["result"]["vulnerabilities"]
            out.append(PlatformRescan(img.platform, img.digest, path, len(found),
                                      sum(1 for v in found if v["reachable"]), tuple(made)))
            progress.done("rescan", f"{len(found)} vulnerabilities")
    return RescanResult(str(pinned), digest, vuln_db, tuple(out))


__all__ = ["PlatformRescan", "RescanResult", "Signing", "rescan_image"]
