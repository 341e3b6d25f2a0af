"""Air-gapped releases: one OCI image layout archive that carries an image and everything needed
to trust it, verifiable with no network at all.

    export_bundle("localhost:5000/app:v1", policy, "release.tar", trust_config="trust.json")
    report, facts = verify_archive("release.tar", Pins(trust_file="trust.json", policy=policy))
    import_bundle("release.tar", "site.example/prod/app", Pins(...))

The archive is an OCI layout in a tar: the image (every platform, every child), every referrer
(signatures, attestations, the promotion record) and, under the tag `sccheck-release`, a release
manifest whose config names everything inside by digest and whose layers are the trusted root
(a client trust config, with its signing config) used at export, the policy, and optionally a
vulnerability database snapshot.

Nothing inside the archive is trusted by itself: verification takes its trusted root and its
policy from the user (a file, or the digest of the one inside, pinned). Every blob of the archive
is hashed as it is read; a blob whose bytes do not match its name, a referrer the release names
but the archive lacks, or a pinned digest that does not match, fails the verification.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.errors import DigestMismatch, ImageError, UsageError, VerificationFailed
from supplychain.fsutil import atomic_output
from supplychain.image.archive import ARCHIVE_PREFIX, archive_path, extract, is_archive, tampered
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json, validate_digest
from supplychain.image.layout import REF_NAME, OCILayout
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.policy import model as m
from supplychain.policy.evaluate import PolicyReport
from supplychain.policy.trustroot import TrustFile, freshness_warnings, parse_trust_bytes, read_trust_file
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.strictdoc import load_json

RELEASE_TAG = "sccheck-release"
RELEASE_ARTIFACT_TYPE = "application/vnd.sccheck.release.v1"
CONTENTS_MEDIA_TYPE = "application/vnd.sccheck.release.contents.v1+json"
TRUST_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot.v0.1+json"
POLICY_MEDIA_TYPE = "application/vnd.sccheck.policy.v1+yaml"
VULN_DB_MEDIA_TYPE = "application/vnd.sccheck.vulndb.v1"
TITLE = "org.opencontainers.image.title"



@dataclass(frozen=True)
class Pins:
    """What the user trusts: a trusted root (a file, or the digest of the one in the archive) and
    a policy (a file, or the digest of the one in the archive). Both may be given: they must agree."""

    trust_file: str | None = None
    trusted_root_digest: str | None = None
    policy: m.Policy | None = None
    policy_digest: str | None = None


@dataclass(frozen=True)
class ArchiveFacts:
    path: str
    image_digest: str
    image_reference: str
    referrers: tuple[str, ...]
    trusted_root: str  # digest of the trusted root that was used
    trusted_root_source: str  # "file" (the user's) or "archive (pinned)"
    policy_digest: str
    vuln_db: str | None
    exported_at: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.path,
            "imageDigest": self.image_digest,
            "imageReference": self.image_reference,
            "referrers": list(self.referrers),
            "trustedRoot": self.trusted_root,
            "trustedRootSource": self.trusted_root_source,
            "policyDigest": self.policy_digest,
            "vulnDb": self.vuln_db,
            "exportedAt": self.exported_at,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ExportResult:
    ok: bool
    output: str | None
    digest: str
    report: PolicyReport
    release_digest: str | None = None
    size: int = 0
    referrers: int = 0
    warnings: tuple[str, ...] = ()
    message: str = ""
    contents: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "output": self.output,
            "digest": self.digest,
            "message": self.message,
            "releaseDigest": self.release_digest,
            "bytes": self.size,
            "referrers": self.referrers,
            "warnings": list(self.warnings),
            "contents": self.contents,
            "report": self.report.to_dict(),
        }


# -- export ---------------------------------------------------------------------------------


def _blob(layout: OCILayout, data: bytes, media_type: str, title: str) -> Descriptor:
    desc = layout.write_blob(data, Descriptor.for_bytes(media_type, data))
    return Descriptor(media_type, desc.digest, desc.size, {TITLE: title})


def _listed_referrers(layout: OCILayout, image_digest: str) -> list[str]:
    """Every manifest index.json lists besides the image and the release: the referrers copied."""
    return sorted(
        {
            e.digest
            for e in layout.entries()
            if e.digest != image_digest and e.annotations.get(REF_NAME) != RELEASE_TAG
        }
    )


def _write_tar(layout_dir: Path, output: Path) -> int:
    """The layout as a tar (sorted names, fixed owners and times: the same layout gives the same
    bytes), written beside `output` and renamed onto it."""
    with atomic_output(output) as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
        names = ["oci-layout", "index.json"]
        blob_root = layout_dir / "blobs"
        for alg in sorted(p.name for p in blob_root.iterdir()):
            names += [f"blobs/{alg}/{p.name}" for p in sorted((blob_root / alg).iterdir())]
        for name in names:
            info = tar.gettarinfo(str(layout_dir / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o644
            with (layout_dir / name).open("rb") as src:
                tar.addfile(info, src)
    return output.stat().st_size


def export_bundle(
    image: str,
    policy: m.Policy,
    output: str,
    *,
    trust_config: str | None = None,
    vuln_db: str | None = None,
    registry_options: RegistryOptions | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> ExportResult:
    """Verify `image` against `policy`; only when it passes, write `output`: the image, its
    referrers, the trusted root, the policy (and `vuln_db`) as one OCI layout archive, atomically.
    The copy in the archive is verified again before the archive is written."""
    from supplychain.copy import copy_image
    from supplychain.signing.keyless import trust_config_path
    from supplychain.stores import open_store
    from supplychain.verify import Verification, resolve_once, verify_in_store

    progress = progress or SilentProgress()
    now = now or dt.datetime.now(dt.UTC)
    path = trust_config_path(trust_config)
    if path is None:
        raise UsageError(
            "a bundle carries the trusted root it was verified with; none was named",
            fix="pass --trust-config FILE (or set SCCHECK_TRUST_CONFIG)",
        )
    trust = read_trust_file(path)
    if not trust.is_client_config:
        raise UsageError(
            f"{path} is a bare trusted root; a bundle carries a client trust config",
            expected=TRUST_MEDIA_TYPE,
            fix="pass the client trust config (trustedRoot + signingConfig)",
        )
    db = _read_vuln_db(vuln_db) if vuln_db else None
    ref = parse_image_ref(image)
    src = open_store(ref, registry_options)
    progress.step("resolve", str(ref))
    digest = resolve_once(src, ref)
    progress.done("resolve", digest)
    checks = Verification(policy, trust.sigstore_root())
    report = verify_in_store(src, ref, digest, policy, checks.trusted_root, progress, now, checks)
    warnings = tuple(freshness_warnings(trust.entries, now, policy.max_trusted_root_age))
    if not report.passed:
        failed = ", ".join(r.rule for r in report.failures())
        return ExportResult(
            False,
            None,
            digest,
            report,
            warnings=warnings,
            message=f"{ref} fails the policy ({failed}); no bundle was written",
        )
    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}", fix="choose a writable -o path") from None
    try:
        layout = OCILayout(staging / "layout", create=True)
        progress.step("copy", f"{ref.name}@{digest} -> {output}")
        copy_image(
            src,
            digest,
            layout,
            ref.tag or None,
            referrers=True,
            progress=progress,
            max_workers=registry_options.max_workers if registry_options else 4,
        )
        progress.done("copy")
        referrers = _listed_referrers(layout, digest)
        layers = [
            _blob(layout, trust.data, TRUST_MEDIA_TYPE, "trust_config.json"),
            _blob(layout, policy.raw, POLICY_MEDIA_TYPE, "policy.yaml"),
        ]
        if db is not None:
            layers.append(_blob(layout, db[1], VULN_DB_MEDIA_TYPE, db[0]))
        contents = {
            "image": {"reference": str(ref), "digest": digest},
            "referrers": referrers,
            "trustedRoot": layers[0].digest,
            "policy": layers[1].digest,
            "vulnDb": layers[2].digest if db is not None else None,
            "exportedAt": now.isoformat(),
            "verifiedWith": policy.source_digest,
        }
        config = _blob(layout, canonical_json(contents), CONTENTS_MEDIA_TYPE, "contents.json")
        manifest = {
            "schemaVersion": 2,
            "mediaType": MediaType.OCI_MANIFEST,
            "artifactType": RELEASE_ARTIFACT_TYPE,
            "config": config.to_dict(),
            "layers": [d.to_dict() for d in layers],
            "annotations": {"dev.sccheck.release.image": digest},
        }
        release = layout.write_manifest(canonical_json(manifest), MediaType.OCI_MANIFEST, tag=RELEASE_TAG)
        again = verify_in_store(layout, ref, digest, policy, checks.trusted_root, progress, now, checks)
        if not again.passed:
            raise VerificationFailed(
                "the image verified at the source, but its copy in the bundle does not",
                found=", ".join(r.rule for r in again.failures()),
                fix="report this: the copy lost evidence; nothing was written",
            )
        size = _write_tar(staging / "layout", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(
        True,
        str(target),
        digest,
        report,
        release,
        size,
        len(referrers),
        warnings,
        f"{output}: {ref.name}@{digest} with {len(referrers)} referrer(s)",
        contents,
    )


def _read_vuln_db(path: str) -> tuple[str, bytes]:
    """A database snapshot to carry: a directory in the Go vulnerability database layout goes in
    as a tar (names sorted, owners and times fixed); a file goes in as it is."""
    import io

    from supplychain.analyzers.govulncheck import normalize_db

    p = Path(path)
    if not p.is_dir():
        try:
            return p.name, p.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --vuln-db {path}: {exc.strerror}") from None
    normalize_db(str(p))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for file in sorted(f for f in p.rglob("*") if f.is_file()):
            info = tar.gettarinfo(str(file), arcname=file.relative_to(p).as_posix())
            info.uid = info.gid = info.mtime = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with file.open("rb") as fh:
                tar.addfile(info, fh)
    return f"{p.name}.tar", buf.getvalue()


# -- reading an archive ---------------------------------------------------------------------


def _tampered(what: str, expected: str, found: str) -> VerificationFailed:
    return tampered(what, expected, found, noun="bundle", remake="export it again from the source")


@dataclass
class OpenArchive:
    path: str
    layout: OCILayout
    directory: Path
    contents: dict[str, Any]
    release: dict[str, Any]

    @property
    def image_digest(self) -> str:
        return str(self.contents["image"]["digest"])

    def layer(self, digest: str | None) -> bytes | None:
        if not digest:
            return None
        for layer in self.release.get("layers") or []:
            if isinstance(layer, dict) and layer.get("digest") == digest:
                return self.layout.read_blob(Descriptor.from_dict(layer))
        raise _tampered(f"the release names {digest} but does not carry it", digest, "absent")


@contextlib.contextmanager
def open_archive(path: str) -> Iterator[OpenArchive]:
    """The archive unpacked in a private temporary directory (removed afterwards), its release
    manifest read, and the image's graph and referrers checked complete."""
    from supplychain.copy import graph_blobs

    with tempfile.TemporaryDirectory(prefix="sccheck-bundle-") as tmp:
        directory = Path(tmp) / "layout"
        directory.mkdir()
        extract(path, directory)
        layout = OCILayout(directory)
        try:
            raw, _, _ = layout.read_manifest(RELEASE_TAG)
        except ImageError:
            raise ImageError(
                f"{path} is not an sccheck bundle: it has no {RELEASE_TAG!r} manifest",
                fix="write bundles with 'sccheck bundle export'",
            ) from None
        release = load_json(raw, "the release manifest")
        if not isinstance(release, dict) or release.get("artifactType") != RELEASE_ARTIFACT_TYPE:
            raise ImageError(
                f"{path}: the {RELEASE_TAG} manifest is not an sccheck release",
                expected=RELEASE_ARTIFACT_TYPE,
            )
        contents = load_json(
            layout.read_blob(Descriptor.from_dict(release["config"])), "the release contents"
        )
        if not isinstance(contents, dict) or not isinstance(contents.get("image"), dict):
            raise ImageError(f"{path}: the release contents do not name an image")
        digest = validate_digest(str(contents["image"].get("digest")))
        try:
            top = layout.resolve(digest)
            _, blobs = graph_blobs(layout, top)
        except DigestMismatch as exc:
            raise _tampered(
                "a manifest does not match its digest", exc.expected or "", exc.found or ""
            ) from None
        except ImageError as exc:
            raise _tampered(
                f"the image {digest} is incomplete: {exc.message}", "every manifest of the image", "missing"
            ) from None
        for b in blobs:
            if not layout.has_blob(b.digest):
                raise _tampered(f"the image's blob {b.digest} is missing", "every layer and config", "absent")
        listed = set(_listed_referrers(layout, digest))
        for r in contents.get("referrers") or []:
            if r not in listed:
                raise _tampered(
                    f"the release names the referrer {r}, which the archive does not hold (removed?)",
                    f"{len(contents['referrers'])} referrer(s)",
                    f"{len(listed)}",
                )
        yield OpenArchive(path, layout, directory, contents, release)


def _pinned_trust(archive: OpenArchive, pins: Pins) -> tuple[TrustFile, str]:
    inside_digest = archive.contents.get("trustedRoot")
    if pins.trust_file:
        trust = read_trust_file(pins.trust_file)
        if pins.trusted_root_digest and pins.trusted_root_digest != trust.digest:
            raise UsageError(
                f"--trusted-root-digest {pins.trusted_root_digest} is not the digest of "
                f"{pins.trust_file} ({trust.digest})",
                fix="pin one trusted root",
            )
        return trust, "file"
    if not pins.trusted_root_digest:
        raise UsageError(
            "verifying a bundle needs a trusted root you chose; the one inside is not trusted "
            "unless you pin its digest",
            fix=f"pass --trust-config FILE, or --trusted-root-digest {inside_digest} after "
            "checking that digest against one you trust (sccheck trust show)",
        )
    if pins.trusted_root_digest != inside_digest:
        raise _tampered(
            "the trusted root inside is not the one pinned (swapped?)",
            pins.trusted_root_digest,
            str(inside_digest),
        )
    data = archive.layer(str(inside_digest))
    assert data is not None
    return parse_trust_bytes(data, f"{archive.path}:trust_config.json"), "archive (pinned)"


def _pinned_policy(archive: OpenArchive, pins: Pins) -> m.Policy:
    from supplychain.policy import parse_policy

    inside = archive.contents.get("policy")
    if pins.policy is not None:
        if pins.policy_digest and pins.policy_digest != pins.policy.source_digest:
            raise UsageError(
                f"--policy-digest {pins.policy_digest} is not the digest of the --policy file "
                f"({pins.policy.source_digest})",
                fix="pin one policy",
            )
        return pins.policy
    if not pins.policy_digest:
        raise UsageError(
            "verifying a bundle needs a policy you chose",
            fix=f"pass --policy FILE, or --policy-digest {inside} to use the one inside",
        )
    if pins.policy_digest != inside:
        raise _tampered("the policy inside is not the one pinned", pins.policy_digest, str(inside))
    data = archive.layer(str(inside))
    assert data is not None
    return parse_policy(data, f"{archive.path}:policy.yaml")


def _verify_open(
    archive: OpenArchive, pins: Pins, progress: Progress, now: dt.datetime | None
) -> tuple[PolicyReport, ArchiveFacts, TrustFile, m.Policy]:
    from supplychain.verify import verify_in_store

    trust, trust_source = _pinned_trust(archive, pins)
    policy = _pinned_policy(archive, pins)
    digest = archive.image_digest
    ref = ImageRef(layout_dir=archive.path, digest=digest)
    report = verify_in_store(archive.layout, ref, digest, policy, trust.sigstore_root(), progress, now)
    report = dataclasses.replace(report, reference=f"{ARCHIVE_PREFIX}{archive.path}@{digest}")
    facts = ArchiveFacts(
        archive.path,
        digest,
        str(archive.contents["image"].get("reference", "")),
        tuple(archive.contents.get("referrers") or ()),
        trust.digest,
        trust_source,
        policy.source_digest,
        archive.contents.get("vulnDb"),
        str(archive.contents.get("exportedAt", "")),
        tuple(freshness_warnings(trust.entries, now, policy.max_trusted_root_age)),
    )
    return report, facts, trust, policy


def verify_archive(
    path: str, pins: Pins, *, progress: Progress | None = None, now: dt.datetime | None = None
) -> tuple[PolicyReport, ArchiveFacts]:
    """Verify the image in the bundle `path` with no network: the trusted root and the policy
    are the ones `pins` names. A tampered bundle raises VerificationFailed with the reason."""
    progress = progress or SilentProgress()
    with open_archive(archive_path(path)) as archive:
        report, facts, _, _ = _verify_open(archive, pins, progress, now)
    return report, facts


def import_bundle(
    path: str,
    destination: str,
    pins: Pins,
    *,
    registry_options: RegistryOptions | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> tuple[Any, ArchiveFacts]:
    """Push the bundle's image and every referrer into `destination` (REGISTRY/REPO[:TAG]; the tag
    defaults to the one exported) as a promotion does - verified in the bundle first, copied by
    digest, listed per the registry's capabilities, re-verified there, the tag moved last - so a
    repeated or interrupted import completes without duplicating anything."""
    from supplychain.promote import VsaSigning, promote

    progress = progress or SilentProgress()
    with open_archive(archive_path(path)) as archive:
        report, facts, trust, policy = _verify_open(archive, pins, progress, now)
        if not report.passed:
            failed = ", ".join(r.rule for r in report.failures())
            raise VerificationFailed(
                f"the image in {path} fails the policy ({failed}); nothing was imported",
                fix="export a bundle of an image that passes",
            )
        dst = parse_image_ref(destination)
        exported = parse_image_ref(facts.image_reference).tag if facts.image_reference else None
        tag = dst.tag or exported
        if not tag:
            raise UsageError(
                "the destination needs a tag and the bundle records none",
                expected="REGISTRY/REPO:TAG",
                found=destination,
            )
        if not trust.is_client_config:
            raise UsageError(
                "importing needs a client trust config (trustedRoot + signingConfig)",
                found=f"{trust.path} is a bare trusted root",
            )
        trust_path = archive.directory.parent / "trust.json"
        trust_path.write_bytes(trust.data)
        result = promote(
            f"oci:{archive.directory}@{facts.image_digest}",
            f"{dst.name}:{tag}",
            policy,
            trust_config=str(trust_path),
            registry_options=registry_options,
            vsa=VsaSigning(enabled=False),
            progress=progress,
            now=now,
        )
    return result, facts


__all__ = [
    "ARCHIVE_PREFIX",
    "ArchiveFacts",
    "ExportResult",
    "Pins",
    "archive_path",
    "export_bundle",
    "import_bundle",
    "is_archive",
    "open_archive",
    "verify_archive",
]
