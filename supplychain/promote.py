"""`sccheck promote SRC DST --policy F`: verify, copy by digest, re-verify, attest, then tag.

Order, and why:
1. resolve SRC once to a digest and verify it against the policy at the source;
2. refuse early if DST's tag names another digest (unless `force`); if it already names this
   digest, say so and stop (idempotent);
3. copy the image BY DIGEST with every referrer (signatures, attestations) - no tag yet;
4. refuse if SRC's tag moved meanwhile (what was verified is no longer what SRC names);
5. verify again AT THE DESTINATION, by digest: the copy must carry valid evidence on its own;
6. attach a signed SLSA verification summary (VSA v1) to the promoted digest;
7. only then move the destination tag (checked once more just before).
A refusal at any step leaves the destination tag untouched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from supplychain import __version__
from supplychain.copy import copy_image
from supplychain.errors import Error, UsageError
from supplychain.image.open import open_store
from supplychain.image.reference import parse_image_ref
from supplychain.image.store import ContentStore
from supplychain.policy import model as m
from supplychain.policy.evaluate import PolicyReport
from supplychain.progress import Progress, SilentProgress
from supplychain.strictdoc import load_yaml
from supplychain.verify import load_trusted_root, resolve_once, verify_in_store

VERIFIER_ID = "https://sccheck.dev/verifier/v1"


@dataclass(frozen=True)
class VsaSigning:
    """How to sign the verification summary: keyless (token / env / dev-stack) or with a key."""

    identity_token: str | None = None
    key: str | None = None
    key_password: str | None = None
    rekor_url: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class PromoteResult:
    source: str
    destination: str
    digest: str
    status: str                    # "promoted" | "unchanged" | "refused" | "error"
    message: str
    source_report: PolicyReport | None = None
    destination_report: PolicyReport | None = None
    vsa_referrer: str | None = None
    copied: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("promoted", "unchanged")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "message": self.message, "source": self.source,
                "destination": self.destination, "digest": self.digest, "vsa": self.vsa_referrer,
                "copied": self.copied, "error": self.error,
                "sourceReport": self.source_report.to_dict() if self.source_report else None,
                "destinationReport": self.destination_report.to_dict() if self.destination_report else None}


def _tag_digest(store: ContentStore, tag: str) -> str | None:
    from supplychain.image.layout import OCILayout
    from supplychain.registry.transport import RegistryNotFound

    try:
        return store.resolve(tag).digest
    except RegistryNotFound:
        return None
    except Error:
        if isinstance(store, OCILayout):   # a layout says "not in" for an unknown tag
            return None
        raise


def vsa_predicate(report: PolicyReport, resource: str, policy: m.Policy, now: dt.datetime) -> dict[str, Any]:
    levels = [f"SCCHECK_POLICY_{policy.name.upper().replace('-', '_').replace('.', '_')}"]
    if any(r.rule == "provenance" and r.passed for r in report.results):
        levels.insert(0, "SLSA_BUILD_LEVEL_1")
    inputs = sorted({s.bundle_digest for s in report.statements})
    return {
        "verifier": {"id": VERIFIER_ID, "version": {"sccheck": __version__}},
        "timeVerified": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resourceUri": resource,
        "policy": {"uri": f"sccheck:policy/{policy.name}",
                   "digest": {"sha256": policy.source_digest.removeprefix("sha256:")}},
        "inputAttestations": [{"uri": f"{resource.split('@', 1)[0]}@{d}",
                               "digest": {"sha256": d.removeprefix("sha256:")}} for d in inputs],
        "verificationResult": "PASSED" if report.passed else "FAILED",
        "verifiedLevels": levels,
        "slsaVersion": "1.0",
    }


def _refused(src: str, dst: str, digest: str, message: str, **kw: Any) -> PromoteResult:
    return PromoteResult(src, dst, digest, "refused", message, **kw)


def promote(source: str, destination: str, policy: m.Policy, *, trust_config: str | None = None,
            registry_options: Any = None, force: bool = False, vsa: VsaSigning | None = None,
            progress: Progress | None = None, now: dt.datetime | None = None) -> PromoteResult:
    progress = progress or SilentProgress()
    vsa = vsa or VsaSigning()
    src_ref, dst_ref = parse_image_ref(source), parse_image_ref(destination)
    tag = dst_ref.tag or src_ref.tag
    if dst_ref.digest or not tag:
        raise UsageError("the destination needs a tag to promote to", expected="host/repo:tag",
                         found=destination,
                         fix="write the destination as e.g. localhost:5000/prod/app:v1.2.3")
    dst_text = f"{dst_ref.name}:{tag}"
    trusted_root = load_trusted_root(trust_config, policy)
    src = open_store(src_ref, registry_options=registry_options)
    dst = open_store(dst_ref, registry_options=registry_options)

    progress.step("resolve", source)
    digest = resolve_once(src, src_ref)
    progress.done("resolve", digest)
    progress.step("verify source", source)
    src_report = verify_in_store(src, src_ref, digest, policy, trusted_root, progress, now)
    progress.done("verify source", "passed" if src_report.passed else "FAILED")
    if not src_report.passed:
        failed = ", ".join(r.rule for r in src_report.failures())
        return _refused(source, dst_text, digest,
                        f"the source fails the policy ({failed}); nothing was copied",
                        source_report=src_report)

    current = _tag_digest(dst, tag)
    if current == digest:
        return PromoteResult(source, dst_text, digest, "unchanged",
                             f"{dst_text} already names {digest}: nothing to do", source_report=src_report)
    if current is not None and not force:
        return _refused(source, dst_text, digest,
                        f"{dst_text} names another image ({current}); pass --force to move it",
                        source_report=src_report)

    copied = copy_image(src, digest, dst, None, referrers=True, progress=progress)

    if src_ref.tag and not src_ref.digest:
        now_names = resolve_once(src, src_ref.with_tag(src_ref.tag))
        if now_names != digest:
            return _refused(source, dst_text, digest,
                            f"the source tag moved during promotion (verified {digest}, now {now_names}); "
                            "the destination tag was not moved - promote again to ship the new image",
                            source_report=src_report, copied=copied.to_dict())

    progress.step("verify destination", f"{dst_ref.name}@{digest}")
    pinned_ref = dst_ref.with_digest(digest)
    dst_report = verify_in_store(dst, pinned_ref, digest, policy, trusted_root, progress, now)
    progress.done("verify destination", "passed" if dst_report.passed else "FAILED")
    if not dst_report.passed:
        failed = ", ".join(r.rule for r in dst_report.failures())
        return _refused(source, dst_text, digest,
                        f"the copy at the destination fails the policy ({failed}); the tag was not moved",
                        source_report=src_report, destination_report=dst_report, copied=copied.to_dict())

    vsa_ref = None
    if vsa.enabled:
        from supplychain.signing.api import attest_image

        pinned = f"{dst_ref.name}@{digest}"
        predicate = vsa_predicate(dst_report, pinned, policy, now or dt.datetime.now(dt.UTC))
        progress.step("attest", "verification summary (SLSA VSA v1)")
        signed = attest_image(pinned, m.PREDICATE_VSA, predicate, trust_config=trust_config,
                              identity_token=vsa.identity_token, key=vsa.key, key_password=vsa.key_password,
                              rekor_url=vsa.rekor_url, registry_options=registry_options)
        vsa_ref = signed.referrer_digest
        progress.done("attest", vsa_ref)

    latest = _tag_digest(dst, tag)
    if latest not in (current, digest):
        return _refused(source, dst_text, digest, f"{dst_text} changed during promotion (now {latest}); "
                        "the tag was not moved", source_report=src_report, destination_report=dst_report,
                        vsa_referrer=vsa_ref, copied=copied.to_dict())
    data, media_type, _ = dst.read_manifest(digest)
    dst.write_manifest(data, media_type, tag=tag)
    moved = f" (moved from {current})" if current else ""
    return PromoteResult(source, dst_text, digest, "promoted", f"{dst_text} -> {digest}{moved}",
                         src_report, dst_report, vsa_ref, copied.to_dict())



# --- batch --------------------------------------------------------------------------------

MAX_BATCH = 500


@dataclass(frozen=True)
class BatchItem:
    source: str
    destination: str
    policy: str | None = None
    force: bool = False


@dataclass(frozen=True)
class BatchResult:
    results: tuple[PromoteResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def summary(self) -> dict[str, int]:
        out = {"total": len(self.results)}
        for status in ("promoted", "unchanged", "refused", "error"):
            out[status] = sum(1 for r in self.results if r.status == status)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary(), "results": [r.to_dict() for r in self.results]}


def load_batch(path: str) -> list[BatchItem]:
    """A YAML or JSON file: `promotions: [{source, destination, policy?, force?}, ...]`."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read((1 << 20) + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the batch file {path}: {exc.strerror}") from None
    doc = load_yaml(raw, f"the batch file {path}")
    items = doc.get("promotions") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items or set(doc) != {"promotions"}:
        raise UsageError(f"the batch file {path} must hold exactly a non-empty 'promotions' list",
                         expected="promotions: [{source: REF, destination: REF:TAG, policy: F, "
                                  "force: false}]")
    if len(items) > MAX_BATCH:
        raise UsageError(f"too many promotions in {path}", expected=f"at most {MAX_BATCH}",
                         found=str(len(items)))
    out: list[BatchItem] = []
    for i, item in enumerate(items):
        where = f"{path}: promotions[{i}]"
        if not isinstance(item, dict) or not {"source", "destination"} <= set(item) or \
                set(item) - {"source", "destination", "policy", "force"}:
            raise UsageError(f"{where} is malformed",
                             expected="source, destination, optional policy and force",
                             found=str(item)[:200])
        if not all(isinstance(item.get(k, ""), str) for k in ("source", "destination", "policy")) or \
                not isinstance(item.get("force", False), bool):
            raise UsageError(f"{where} has a value of the wrong type", found=str(item)[:200])
        out.append(BatchItem(item["source"], item["destination"], item.get("policy"),
                             item.get("force", False)))
    dests = [parse_image_ref(b.destination) for b in out]
    seen: set[str] = set()
    for d in dests:
        key = f"{d.name}:{d.tag}"
        if key in seen:
            raise UsageError(f"{path} promotes twice to {key}", fix="one promotion per destination tag")
        seen.add(key)
    return out


def promote_batch(items: list[BatchItem], default_policy: m.Policy | None, *, concurrency: int = 4,
                  **kwargs: Any) -> BatchResult:
    """Run independent promotions with bounded concurrency. One failing does not touch the others:
    each writes only its own destination, and every error is caught into its own result."""
    from concurrent.futures import ThreadPoolExecutor

    from supplychain.policy.loader import load_policy

    policies: dict[str, m.Policy] = {}
    for item in items:   # every policy file is checked before anything is promoted
        if item.policy and item.policy not in policies:
            policies[item.policy] = load_policy(item.policy)
        if not item.policy and default_policy is None:
            raise UsageError(f"no policy for {item.source} -> {item.destination}",
                             fix="pass --policy or give the promotion its own 'policy'")

    def one(item: BatchItem) -> PromoteResult:
        pol = policies[item.policy] if item.policy else default_policy
        assert pol is not None
        try:
            return promote(item.source, item.destination, pol, force=item.force, **kwargs)
        except Error as exc:
            return PromoteResult(item.source, item.destination, "", "error", exc.message, error=exc.to_dict())

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, 16))) as pool:
        return BatchResult(tuple(pool.map(one, items)))
