"""`sccheck promote SRC DST --policy F`: a promotion as a transaction (contract: docs/policy.md).

Order, and why:
1. resolve SRC once to a digest and verify it against the policy at the source;
2. refuse early if DST's tag names another digest (unless `force`);
3. copy the image BY DIGEST with every referrer (signatures, attestations) - no tag yet. The
   copy completes or repairs what an earlier run left: present content is skipped. Where the
   destination keeps a fallback index, every referrer's entry (one stored by an interrupted run
   but never indexed included) is held for step 7;
4. refuse if SRC's tag moved meanwhile (what was verified is no longer what SRC names);
5. verify again AT THE DESTINATION, by digest, from the destination's own referrer listings
   (plus the entries held for its index);
6. the promotion record: reuse the signed verification summary (VSA) for (digest, destination
   repository, policy digest) when one is there and still valid, else sign one;
7. list the evidence where clients look: one verified merge per subject's fallback index writes
   the held entries with the summary's, and reads it back; refuse if anything is unlisted;
8. only then move the destination tag: checked just before, read back just after; if another
   writer won, this run fails and names the winner.
A refusal or failure at any step leaves the destination tag untouched; a rerun completes it.

Requests: the bytes verification fetched at the source (manifests, configs, referrer manifests,
bundles; all verified by digest) are kept in one cache that the copy and the re-verification
read from; the listings at the destination are always read from the destination.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from supplychain.attest.vocabulary import SLSA_VSA
from supplychain.attest.vsa import VERIFIER_ID, resource_uri, vsa_facts, vsa_predicate
from supplychain.errors import Error, UsageError
from supplychain.image.descriptor import MediaType
from supplychain.image.reference import parse_image_ref
from supplychain.image.store import ContentStore, share_cache
from supplychain.policy import model as m
from supplychain.policy.evaluate import PolicyReport
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.stores import open_store
from supplychain.strictdoc import MAX_JSON_BYTES, load_json, load_yaml, read_config_file
from supplychain.verify import load_trusted_root, resolve_once


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
    winner: str | None = None      # the digest a concurrent writer moved the tag to
    vsa_reused: bool = False
    journal: str | None = None     # "resumed": done by an earlier attempt, per the journal

    @property
    def ok(self) -> bool:
        return self.status in ("promoted", "unchanged")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "message": self.message, "source": self.source,
                "destination": self.destination, "digest": self.digest, "vsa": self.vsa_referrer,
                "vsaReused": self.vsa_reused, "winner": self.winner, "journal": self.journal,
                "copied": self.copied, "error": self.error,
                "sourceReport": self.source_report.to_dict() if self.source_report else None,
                "destinationReport": self.destination_report.to_dict() if self.destination_report else None}




def _refused(src: str, dst: str, digest: str, message: str, **kw: Any) -> PromoteResult:
    return PromoteResult(src, dst, digest, "refused", message, **kw)


def _valid_summary(report: PolicyReport, digest: str, resource: str, policy: m.Policy) -> Any:
    """A verified VSA at the destination for (digest, resource, policy digest) that passed and
    whose inputs are all still verified there; None when there is none."""
    inputs = {s.bundle_digest for s in report.statements if s.predicate_type != m.PREDICATE_VSA}
    want = policy.source_digest.removeprefix("sha256:")
    for s in sorted(report.statements, key=lambda s: s.bundle_digest):
        if s.predicate_type != m.PREDICATE_VSA or s.attached_to != digest:
            continue
        facts = vsa_facts(s.predicate)
        if (facts.resource == resource_uri(resource) and facts.passed and facts.verifier_id == VERIFIER_ID
                and facts.policy_digest == want and facts.inputs <= inputs):
            return s
    return None


def _complete_summary(dst: ContentStore, evidence: Any, report: PolicyReport, found: Any) -> int:
    """Attach the reused summary's bundle to each platform manifest that lacks it (a run
    interrupted while attaching it); returns how many were attached."""
    from supplychain.image.descriptor import Descriptor, parse_manifest
    from supplychain.signing.storage import attach_bundles

    if not evidence.is_index:
        return 0
    have = {s.attached_to for s in report.statements
            if s.predicate_type == m.PREDICATE_VSA and s.predicate == found.predicate}
    missing = [mf for mf in evidence.manifests if mf.digest not in have]
    if not missing:
        return 0
    data, media_type, _ = dst.read_manifest(found.bundle_digest)
    layer = Descriptor.from_dict(parse_manifest(data, media_type)["layers"][0])
    bundle = dst.read_blob(layer)
    subjects = []
    for mf in missing:
        cdata, cmt, _ = dst.read_manifest(mf.digest)
        subjects.append(Descriptor(cmt, mf.digest, len(cdata)))
    attach_bundles(dst, subjects, bundle, m.PREDICATE_VSA)
    return len(missing)


def promote(source: str, destination: str, policy: m.Policy, *, trust_config: str | None = None,
            registry_options: RegistryOptions | None = None, force: bool = False,
            vsa: VsaSigning | None = None,
            progress: Progress | None = None, now: dt.datetime | None = None) -> PromoteResult:
    from supplychain.copy import TagConflict, TagRaceLost, copy_image, move_tag
    from supplychain.verify import Verification, gather_evidence

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
    src = open_store(src_ref, registry_options)
    dst = open_store(dst_ref, registry_options)
    share_cache(src, dst, list_once=src)   # the source is listed once for verification and copy
    checks = Verification(policy, trusted_root)

    gathered: dict[int, Any] = {}

    def verify_at(store: ContentStore, ref: Any, digest: str) -> PolicyReport:
        from supplychain.policy.evaluate import evaluate

        gathered[id(store)] = gather_evidence(store, str(ref.with_digest(digest)), digest, checks, progress)
        return evaluate(policy, gathered[id(store)], now)

    progress.step("resolve", source)
    digest = resolve_once(src, src_ref)
    progress.done("resolve", digest)
    progress.step("verify source", source)
    src_report = verify_at(src, src_ref, digest)
    progress.done("verify source", "passed" if src_report.passed else "FAILED")
    if not src_report.passed:
        failed = ", ".join(r.rule for r in src_report.failures())
        return _refused(source, dst_text, digest,
                        f"the source fails the policy ({failed}); nothing was copied",
                        source_report=src_report)

    current = dst.lookup_tag(tag)
    if current not in (None, digest) and not force:
        return _refused(source, dst_text, digest,
                        f"{dst_text} names another image ({current}); pass --force to move it",
                        source_report=src_report)

    # Every referrer, and theirs; a Sigstore bundle is self-contained, so its referrers are not
    # looked for (the policy reads none; it saves one listing per signature and attestation).
    # Their fallback-index entries are held for one merge with the summary's (step 7).
    copied = copy_image(src, digest, dst, None, referrers=True, progress=progress,
                        leaf_types=frozenset({MediaType.SIGSTORE_BUNDLE}), defer_index=True)

    if src_ref.tag and not src_ref.digest:
        now_names = resolve_once(src, src_ref.with_tag(src_ref.tag))
        if now_names != digest:
            return _refused(source, dst_text, digest,
                            f"the source tag moved during promotion (verified {digest}, now {now_names}); "
                            "the destination tag was not moved - promote again to ship the new image",
                            source_report=src_report, copied=copied.to_dict())

    progress.step("verify destination", f"{dst_ref.name}@{digest}")
    dst_report = verify_at(dst, dst_ref, digest)
    progress.done("verify destination", "passed" if dst_report.passed else "FAILED")
    if not dst_report.passed:
        failed = ", ".join(r.rule for r in dst_report.failures())
        return _refused(source, dst_text, digest,
                        f"the copy at the destination fails the policy ({failed}); the tag was not moved",
                        source_report=src_report, destination_report=dst_report, copied=copied.to_dict())
    pinned = f"{dst_ref.name}@{digest}"
    vsa_ref, reused, notes = None, False, []
    if vsa.enabled:
        from supplychain.signing.api import attest_in_store

        found = _valid_summary(dst_report, digest, pinned, policy)
        if found is not None:
            vsa_ref, reused = found.bundle_digest, True
            added = _complete_summary(dst, gathered[id(dst)], dst_report, found)
            notes.append(f"reused the verification summary {vsa_ref}" +
                         (f" (attached to {added} more platform manifest(s))" if added else ""))
            progress.info(notes[-1])
        else:
            predicate = vsa_predicate(
                pinned, policy_name=policy.name, policy_digest=policy.source_digest,
                passed=dst_report.passed,
                provenance_passed=any(r.rule == "provenance" and r.passed for r in dst_report.results),
                input_bundles=(s.bundle_digest for s in dst_report.statements),
                now=now or dt.datetime.now(dt.UTC))
            progress.step("attest", "verification summary (SLSA VSA v1)")
            signed = attest_in_store(dst, dst_ref.with_digest(digest), digest, SLSA_VSA, predicate,
                                     trust_config=trust_config, identity_token=vsa.identity_token,
                                     key=vsa.key, key_password=vsa.key_password, rekor_url=vsa.rekor_url)
            vsa_ref = signed.referrer_digest
            progress.done("attest", vsa_ref)

    # Every entry still held is merged now (the summary's merge took its subject's along), and
    # each index read back: only then is the evidence listed where clients look.
    copied = replace(copied, referrers_indexed=copied.referrers_indexed + dst.flush_index())
    unlisted = _unlisted_evidence(dst, src_report, dst_report)
    if unlisted:
        return _refused(source, dst_text, digest,
                        f"{len(unlisted)} referrer(s) copied to the destination are not listed where "
                        f"clients look ({', '.join(unlisted[:3])}); the tag was not moved - run again",
                        source_report=src_report, destination_report=dst_report, vsa_referrer=vsa_ref,
                        copied=copied.to_dict())

    written = copied.manifests_copied + copied.referrers_indexed
    if current == digest:
        what = "nothing to do" if not written and (reused or not vsa.enabled) else \
            f"completed the evidence there ({copied.manifests_copied} manifest(s) copied, " \
            f"{copied.referrers_indexed} referrer(s) indexed)"
        return PromoteResult(source, dst_text, digest, "unchanged",
                             f"{dst_text} already names {digest}: {what}", src_report, dst_report, vsa_ref,
                             copied.to_dict(), vsa_reused=reused)
    data, media_type, _ = dst.read_manifest(digest)
    try:
        move_tag(dst, tag, data, media_type, digest, current)
    except TagRaceLost as exc:
        return _refused(source, dst_text, digest,
                        f"another promotion moved {dst_text} at the same time and won: it names "
                        f"{exc.facts.get('winner')}; {digest} is at the destination by digest only",
                        source_report=src_report, destination_report=dst_report, vsa_referrer=vsa_ref,
                        copied=copied.to_dict(), winner=str(exc.facts.get("winner")), vsa_reused=reused)
    except TagConflict as exc:
        return _refused(source, dst_text, digest, f"{dst_text} changed during promotion (now "
                        f"{exc.facts.get('winner')}); the tag was not moved",
                        source_report=src_report, destination_report=dst_report, vsa_referrer=vsa_ref,
                        copied=copied.to_dict(), winner=str(exc.facts.get("winner")), vsa_reused=reused)
    moved = f" (moved from {current})" if current else ""
    extra = f"; {notes[0]}" if notes else ""
    return PromoteResult(source, dst_text, digest, "promoted", f"{dst_text} -> {digest}{moved}{extra}",
                         src_report, dst_report, vsa_ref, copied.to_dict(), vsa_reused=reused)


def _unlisted_evidence(dst: ContentStore, src_report: PolicyReport, dst_report: PolicyReport) -> list[str]:
    """Referrers verified at the source that the destination does not list where its clients
    look: its verification read one listing (API or fallback index); with referrers mode
    `both` the fallback index must list them too."""
    seen_at_dst = {(s.attached_to, s.bundle_digest) for s in dst_report.statements} | \
        {(r.attached_to, r.bundle_digest) for r in dst_report.rejected}
    missing = [s.bundle_digest for s in src_report.statements
               if (s.attached_to, s.bundle_digest) not in seen_at_dst]
    by_subject: dict[str, set[str]] = {}
    for s in src_report.statements:
        by_subject.setdefault(s.attached_to, set()).add(s.bundle_digest)
    for subject, wanted in by_subject.items():
        missing += sorted(dst.unlisted_referrers(subject, wanted))
    return missing


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
    doc = load_yaml(read_config_file(path, "the batch file"), f"the batch file {path}")
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


def parse_shard(text: str) -> tuple[int, int]:
    """"I/N" (1 <= I <= N <= 1000) -> (I, N)."""
    left, sep, right = text.partition("/")
    if sep and left.isdigit() and right.isdigit() and 1 <= int(left) <= int(right) <= 1000:
        return int(left), int(right)
    raise UsageError(f"--shard must be I/N with 1 <= I <= N, not {text!r}", expected="e.g. 2/4",
                     fix="in a GitHub Actions matrix: --shard ${{ matrix.shard }}/4")


def shard_of(items: list[BatchItem], index: int, count: int) -> list[BatchItem]:
    """Shard `index` of `count` (1-based): the items at positions index-1, index-1+count, ... once
    sorted by destination, so every shard of one batch file gets a fixed, disjoint, even share
    whatever order the file lists them in."""
    ordered = sorted(items, key=lambda b: (b.destination, b.source))
    return ordered[index - 1::count]


class Journal:
    """What a batch (or one shard of it) has done, so a retried job resumes: one JSON file,
    rewritten whole-or-nothing after each promotion. A promotion recorded as done is skipped on a
    rerun when the destination tag still names the recorded digest (one request); anything else
    runs again, which completes or repairs it."""

    VERSION = 1

    def __init__(self, path: str, batch_key: str) -> None:
        import threading

        self.path, self.batch_key = path, batch_key
        self._lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_JSON_BYTES + 1)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UsageError(f"the journal {path} cannot be read: {exc.strerror}",
                             fix="remove it to start the batch over, or pass another --journal") from None
        doc = load_json(raw, f"the journal {path}", error=UsageError)
        if not isinstance(doc, dict) or doc.get("version") != self.VERSION or \
                not isinstance(doc.get("entries"), dict):
            raise UsageError(f"{path} is not an sccheck promotion journal", fix="pass another --journal")
        if doc.get("batch") != batch_key:
            raise UsageError(f"the journal {path} belongs to another batch or shard",
                             expected=batch_key, found=str(doc.get("batch"))[:200],
                             fix="use one journal per batch file and shard")
        self.entries = {str(k): v for k, v in doc["entries"].items() if isinstance(v, dict)}

    def done(self, item: BatchItem) -> dict[str, Any] | None:
        entry = self.entries.get(item.destination)
        ok = entry and entry.get("status") in ("promoted", "unchanged") and entry.get("source") == item.source
        return entry if ok else None

    def record(self, item: BatchItem, result: PromoteResult) -> None:
        import json

        from supplychain.fsutil import atomic_write

        with self._lock:
            self.entries[item.destination] = {
                "source": item.source, "status": result.status, "digest": result.digest,
                "vsa": result.vsa_referrer, "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            doc = {"version": self.VERSION, "batch": self.batch_key, "entries": self.entries}
            atomic_write(self.path, json.dumps(doc, indent=1, sort_keys=True) + "\n", what="--journal")


def batch_key(path: str, shard: tuple[int, int] | None) -> str:
    import hashlib

    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read(1 << 20)).hexdigest()
    return f"sha256:{digest}" + (f" shard {shard[0]}/{shard[1]}" if shard else "")


def _resumed(item: BatchItem, entry: dict[str, Any],
             registry_options: RegistryOptions | None) -> PromoteResult | None:
    """The journal's result for `item` when its destination tag still names the recorded digest."""
    ref = parse_image_ref(item.destination)
    tag = ref.tag or parse_image_ref(item.source).tag
    if not tag or open_store(ref, registry_options).lookup_tag(tag) != entry.get("digest"):
        return None
    return PromoteResult(item.source, f"{ref.name}:{tag}", str(entry["digest"]), "unchanged",
                         f"{ref.name}:{tag} names {entry['digest']}: done by an earlier attempt "
                         f"({entry.get('status')} at {entry.get('at')})", vsa_referrer=entry.get("vsa"),
                         journal="resumed")


def promote_batch(items: list[BatchItem], default_policy: m.Policy | None, *, concurrency: int = 8,
                  journal: Journal | None = None, **kwargs: Any) -> BatchResult:
    """Run independent promotions with bounded concurrency. One failing does not touch the others:
    each writes only its own destination, and every error is caught into its own result. With a
    journal, what an earlier attempt finished is skipped and every result is recorded."""
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
            entry = journal.done(item) if journal else None
            resumed = _resumed(item, entry, kwargs.get("registry_options")) if entry else None
            result = resumed or promote(item.source, item.destination, pol, force=item.force, **kwargs)
        except Error as exc:
            result = PromoteResult(item.source, item.destination, "", "error", exc.message,
                                   error=exc.to_dict())
        if journal is not None and result.journal is None:
            journal.record(item, result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, 16))) as pool:
        return BatchResult(tuple(pool.map(one, items)))
