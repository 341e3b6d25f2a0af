"""`sccheck verify IMAGE --policy F`: the gate's verification core.

1. Resolve a tag to a digest ONCE; everything after works on that digest. Every manifest read
   is hashed here again: a registry that serves bytes not matching the digest is refused.
2. Open the image through the one view (`supplychain.image.view`): for an index, the index and
   every RUNNABLE child (platform, base-image annotations), each judged on its own.
3. Discover bundles with `store.referrers(digest, artifact_type=bundle)` (OCI 1.1 API or the
   `sha256-<hex>` tag fallback), bounded in count and size.
4. Verify each bundle with sigstore-python against the trusted root (certificate chain, SCT,
   log inclusion and checkpoint, timestamps) and the policy's identities (issuer ALWAYS
   checked), or with a policy public key; then what the library leaves to us: payloadType,
   statement `_type`, predicateType, a subject sha256 equal to the digest it is attached to,
   no duplicate JSON keys.
5. Evaluate the policy's rules on what verified; keep what was rejected, with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from supplychain.attest.statement import parse_statement, statement_digests
from supplychain.attest.vocabulary import BUNDLE_PREDICATE_ANNOTATION, STATEMENT_TYPES
from supplychain.errors import (
    DigestMismatch,
    Error,
    EvidenceUnavailable,
    ImageError,
    SigningError,
    VerificationFailed,
)
from supplychain.image.descriptor import (
    Descriptor,
    MediaType,
    compute_digest,
    loads_strict,
    parse_manifest,
)
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.image.store import ContentStore, share_cache
from supplychain.image.view import ImageView, View, open_image
from supplychain.policy import model as m
from supplychain.policy.evaluate import PolicyReport, evaluate
from supplychain.policy.evidence import (
    ImageEvidence,
    ManifestFacts,
    RejectedBundle,
    Signer,
    VerifiedStatement,
)
from supplychain.policy.identity import IDENTITY_MARK, IdentityGate
from supplychain.policy.keyverify import KeyBundleError, verify_key_bundle
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.stores import open_store

# sigstore-python's words -> what they mean for the person reading the refusal.
_EXPLAIN = (
    ("must contain an inclusion promise or signed timestamp",
     "no trusted time: the bundle carries no verified timestamp, so its short-lived certificate "
     "cannot be shown valid at signing time"),
    ("not enough sources of verified time",
     "no trusted time: the bundle carries no verified timestamp, so its short-lived certificate "
     "cannot be shown valid at signing time"),
    ("expired at time of signing", "the certificate was not valid at the verified signing time"),
    ("transparency log entry is inconsistent", "the transparency log entry is for another artifact "
                                               "(it does not match this bundle's signature)"),
    ("Signature is invalid for input", "the DSSE signature does not verify"),
    ("invalid log entry", "the transparency log entry does not verify against the trusted root"),
    ("failed to build timestamp certificate chain", "the certificate does not chain to the trusted "
                                                     "Fulcio root at the verified time"),
)


class Rejected(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage, self.reason = stage, reason


@dataclass
class Verification:
    """Inputs shared by every bundle of one run (the trust root is loaded once)."""

    policy: m.Policy
    trusted_root: Any = None
    _verifier: Any = None
    _cache: dict[str, tuple[str, dict[str, Any], Signer, dt.datetime | None]] = field(default_factory=dict)

    def verifier(self) -> Any:
        if self._verifier is None:
            if self.trusted_root is None:
                raise Rejected("bundle", "a keyless bundle needs a trusted root (pass --trust-config or set "
                                         "SCCHECK_TRUST_CONFIG)")
            from sigstore.verify import Verifier

            self._verifier = Verifier(trusted_root=self.trusted_root)
        return self._verifier


def load_trusted_root(trust_config: str | None, policy: m.Policy) -> Any:
    """The trusted root of a ClientTrustConfig; None when the policy only has keys and no file is named."""
    from supplychain.signing.keyless import load_trust_config, trust_config_path

    keyless = any(isinstance(i, m.KeylessIdentity) for i in policy.identities.children)
    if trust_config_path(trust_config) is None and not keyless:
        return None
    return load_trust_config(trust_config).trusted_root


def _explain(message: str) -> str:
    for needle, meaning in _EXPLAIN:
        if needle in message:
            return f"{meaning} ({message})"
    return message


def _verify_keyless(v: Verification, raw: bytes) -> tuple[str, bytes, Signer, dt.datetime | None]:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    keyless = [i for i in v.policy.identities.children if isinstance(i, m.KeylessIdentity)]
    if not keyless:
        raise Rejected("identity", "signed keyless (certificate), but the policy allows only public keys")
    try:
        bundle = Bundle.from_json(raw)
    except Exception as exc:
        first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise Rejected("bundle", _explain(f"not a valid Sigstore bundle: {first}")) from None
    gate = IdentityGate(keyless)
    try:
        payload_type, payload = v.verifier().verify_dsse(bundle, gate)
    except SigstoreError as exc:
        msg = str(exc)
        stage = "identity" if IDENTITY_MARK in msg else "bundle"
        raise Rejected(stage, _explain(msg)) from None
    assert gate.matched is not None
    subject = gate.sans[0] if gate.sans else ""
    signer = Signer("keyless", gate.matched.issuer, subject, claims=dict(gate.claims))
    return payload_type, payload, signer, bundle.signing_certificate.not_valid_before_utc


def _verify_bundle(v: Verification, raw: bytes) -> tuple[str, dict[str, Any], Signer, dt.datetime | None]:
    """Crypto + identity + statement checks of one bundle, independent of where it is attached."""
    key = hashlib.sha256(raw).hexdigest()
    if key in v._cache:
        return v._cache[key]
    try:
        doc = loads_strict(raw, "bundle")
    except ImageError as exc:
        raise Rejected("bundle", exc.message) from None
    if not isinstance(doc, dict):
        raise Rejected("bundle", "the bundle is not a JSON object")
    material = doc.get("verificationMaterial") or {}
    if isinstance(material, dict) and "publicKey" in material:
        keys = [i for i in v.policy.identities.children if isinstance(i, m.KeyIdentity)]
        try:
            payload_type, payload, match = verify_key_bundle(doc, keys, v.trusted_root)
        except KeyBundleError as exc:
            raise Rejected("identity" if exc.stage == "identity" else "bundle", exc.reason) from None
        signer, signed_at = Signer("key", key_name=match.name), None
    else:
        payload_type, payload, signer, signed_at = _verify_keyless(v, raw)
    try:
        statement = parse_statement(payload, payload_type)
    except SigningError as exc:
        raise Rejected("statement", exc.message) from None
    result = (payload_type, statement, signer, signed_at)
    v._cache[key] = result
    return result


def _read_manifest(store: ContentStore, identifier: str, expect: str | None) -> tuple[bytes, str, str]:
    """Read a manifest and hash it here; refuse bytes that do not match the digest asked for."""
    try:
        data, media_type, reported = store.read_manifest(identifier)
    except DigestMismatch as exc:
        raise _tampered(store, exc) from None
    actual = compute_digest(data)
    for claimed in (expect, reported):
        if claimed and claimed != actual:
            raise _tampered(store, DigestMismatch("", expected=claimed, found=actual))
    return data, media_type, actual


def _is_content_fault(exc: Error) -> bool:
    """A referrer whose bytes are wrong (unparsable, hash mismatch, wrong type) or absent (404) is
    a fact about that referrer; anything else (refused, unreachable, overloaded) is not."""
    return isinstance(exc, ImageError | VerificationFailed)  # ImageNotFound and DigestMismatch too


def _admit(where: str, target: str, claimed: str, statement: dict[str, Any], signer: Signer,
           signed_at: dt.datetime | None) -> VerifiedStatement:
    """A statement whose signature verified counts for `target` only when it says what the place
    it was found claims, and names `target` among its subjects."""
    if claimed and statement["predicateType"] != claimed:
        raise Rejected("statement", f"the referrer says predicateType {claimed!r} but the signed "
                                    f"statement says {statement['predicateType']!r}")
    ptype = statement["predicateType"]
    subjects = statement_digests(statement)
    if target not in subjects:
        what = "signature" if ptype == m.PREDICATE_SIGNATURE else "attestation"
        raise Rejected("subject", f"the {what} was made for another image: its statement "
                                  f"subjects are {list(subjects)}, not {target}")
    predicate = statement.get("predicate")
    body = predicate if isinstance(predicate, dict) else {}
    return VerifiedStatement(where, target, ptype, subjects, signer, body, signed_at)


def _unavailable(target: str, what: str, exc: Error) -> EvidenceUnavailable:
    return EvidenceUnavailable(f"could not check {target}: reading {what} failed", found=exc.message,
                               facts=exc.facts, fix=exc.fix or "retry when the registry answers; nothing "
                                                               "was decided")


def _collect_legacy(v: Verification, store: ContentStore, target: str,
                    ) -> tuple[list[VerifiedStatement], list[RejectedBundle]]:
    """cosign's legacy .sig/.att tags of `target` (supplychain.legacy), judged like bundles."""
    from supplychain.legacy import read_legacy

    try:
        found, refused = read_legacy(store, target, v.policy, v.trusted_root)
    except Error as exc:
        if not _is_content_fault(exc):
            raise _unavailable(target, "its legacy signature tags", exc) from None
        return [], [RejectedBundle("", target, "", "fetch", exc.message)]
    verified: list[VerifiedStatement] = []
    rejected = [RejectedBundle(r.digest or r.tag, target, r.predicate_type, r.stage,
                               f"legacy {r.tag}: {r.reason}") for r in refused]
    for layer in found:
        try:
            if layer.statement.get("_type") not in STATEMENT_TYPES or \
                    not isinstance(layer.statement.get("predicateType"), str):
                raise Rejected("statement", "the legacy attestation is not an in-toto statement")
            verified.append(_admit(layer.digest, target, "", layer.statement, layer.signer, layer.signed_at))
        except Rejected as exc:
            claimed = str(layer.statement.get("predicateType", ""))
            rejected.append(RejectedBundle(layer.digest, target, claimed, exc.stage,
                                           f"legacy {layer.tag}: {exc.reason}"))
    return verified, rejected


def _collect(v: Verification, store: ContentStore, targets: tuple[str, ...], progress: Progress
             ) -> tuple[list[VerifiedStatement], list[RejectedBundle]]:
    verified: list[VerifiedStatement] = []
    rejected: list[RejectedBundle] = []
    formats = v.policy.signature_formats
    if "bundle" in formats:
        verified, rejected = _collect_bundles(v, store, targets, progress)
    if "legacy" in formats:
        # bundles are preferred, as cosign v3 does: the legacy tags of a digest are read only
        # when no bundle verified for it (a junk referrer cannot hide a good legacy signature)
        for target in targets:
            if not any(s.attached_to == target for s in verified):
                more, refused = _collect_legacy(v, store, target)
                verified += more
                rejected += refused
    return verified, rejected


def _collect_bundles(v: Verification, store: ContentStore, targets: tuple[str, ...], progress: Progress
                     ) -> tuple[list[VerifiedStatement], list[RejectedBundle]]:
    verified: list[VerifiedStatement] = []
    rejected: list[RejectedBundle] = []
    budget = v.policy.max_bundles
    for target in targets:
        listed = store.referrers(target, MediaType.SIGSTORE_BUNDLE)
        for where, reason in getattr(listed, "rejected", ()):  # bad entries of the listing itself
            rejected.append(RejectedBundle(where, target, "", "referrer", reason))
        for ref in listed:
            ptype = (ref.annotations or {}).get(BUNDLE_PREDICATE_ANNOTATION, "")
            try:
                data, media_type, _ = _read_manifest(store, ref.digest, ref.digest)
                doc = parse_manifest(data, media_type)
                ptype = (doc.get("annotations") or {}).get(BUNDLE_PREDICATE_ANNOTATION, ptype) or ""
                if (doc.get("subject") or {}).get("digest") != target:
                    raise Rejected("subject", "the referrer manifest's subject is not this image")
                layers = doc.get("layers") or []
                if len(layers) != 1:
                    raise Rejected("bundle", f"a bundle referrer must have one layer, found {len(layers)}")
                layer = Descriptor.from_dict(layers[0])
                if layer.size > v.policy.max_bundle_bytes:
                    raise Rejected("limits", f"the bundle is {layer.size} bytes, more than "
                                             f"{v.policy.max_bundle_bytes} (limits.maxBundleBytes)")
                raw = store.read_blob(layer)
                # The budget bounds the costly part (certificates, logs, signatures) and is spent
                # only on bundles that parse: planted garbage cannot use it up for a good image.
                if hashlib.sha256(raw).hexdigest() not in v._cache:
                    try:
                        loads_strict(raw, "bundle")
                    except ImageError as exc:
                        raise Rejected("bundle", exc.message) from None
                    if budget <= 0:
                        raise Rejected("limits", f"more than {v.policy.max_bundles} bundles to verify; this "
                                                 "one was not (limits.maxBundles)")
                    budget -= 1
                _, statement, signer, signed_at = _verify_bundle(v, raw)
                verified.append(_admit(ref.digest, target, ptype, statement, signer, signed_at))
            except Rejected as exc:
                rejected.append(RejectedBundle(ref.digest, target, ptype, exc.stage, exc.reason))
            except (AttributeError, TypeError, KeyError, ValueError) as exc:  # a field of the wrong shape
                rejected.append(RejectedBundle(ref.digest, target, str(ptype)[:200], "bundle",
                                               f"malformed referrer ({type(exc).__name__}: {str(exc)[:200]})"
                                               ))
            except Error as exc:
                if not _is_content_fault(exc):  # the network failed, not the referrer: say so
                    raise _unavailable(target, f"its referrer {ref.digest}", exc) from None
                rejected.append(RejectedBundle(ref.digest, target, ptype, "fetch", exc.message))
        progress.info(f"{target[:19]}…: {len(listed)} bundle(s)")
    return verified, rejected


def _tampered(store: ContentStore, exc: DigestMismatch) -> VerificationFailed:
    return VerificationFailed(f"{store.describe()} returned a manifest that does not match its digest",
                              expected=exc.expected, found=exc.found,
                              fix="the registry (or something between) serves tampered content; "
                                  "do not ship from it")


def _runnable(store: ContentStore, digest: str) -> tuple[View, list[ImageView]]:
    try:
        view = open_image(store, digest)
        return view, view.runnable()
    except DigestMismatch as exc:
        raise _tampered(store, exc) from None


def _top_layer_binaries(store: ContentStore, image: ImageView) -> tuple[tuple[str, str], ...]:
    """The executables of the image's top layer (where sccheck's build puts the binaries), for a
    chain layout that matches them. A layer that cannot be read as a layer is refused, as sbom and
    harden refuse it: an unreadable layer must not make the binary rule vanish."""
    from supplychain.attest.link import layer_executables
    from supplychain.image.filesystem import LAYER_ERRORS

    layers = image.layers()
    if not layers:
        return ()
    top = layers[-1]
    try:
        found = layer_executables(store.read_blob(top), image.platform_name, top.media_type)
    except LAYER_ERRORS as exc:
        raise ImageError(f"the top layer {top.digest} of {image.platform_name} cannot be read for its "
                         f"binaries: {exc}", fix="the image is damaged or not what the build made") from None
    return tuple((name, hashes["sha256"]) for name, hashes in sorted(found.items()) if "sha256" in hashes)


def gather_evidence(store: ContentStore, reference: str, digest: str, v: Verification,
                    progress: Progress | None = None) -> ImageEvidence:
    """Everything the policy needs about the image `digest` in `store`: the facts of every
    runnable image (THE rule of `supplychain.image.view`) and the evidence attached to each."""
    progress = progress or SilentProgress()
    view, images = _runnable(store, digest)
    binaries = v.policy.steps is not None and v.policy.steps.reads_binaries
    manifests = tuple(ManifestFacts(i.digest, i.platform_name, i.base_name, i.base_digest,
                                    tuple(d.digest for d in i.layers()),
                                    _top_layer_binaries(store, i) if binaries else ()) for i in images)
    targets = (digest, *(mf.digest for mf in manifests)) if view.is_index else (digest,)
    progress.step("bundles", f"{len(targets)} digest(s)")
    verified, rejected = _collect(v, store, targets, progress)
    progress.done("bundles", f"{len(verified)} verified, {len(rejected)} rejected")
    return ImageEvidence(reference, digest, view.is_index, manifests, tuple(verified), tuple(rejected))


def resolve_once(store: ContentStore, ref: ImageRef) -> str:
    """The digest the reference names now; a pinned digest is checked against what the store serves."""
    _, _, digest = _read_manifest(store, ref.identifier, ref.digest)
    return digest


def verify_in_store(store: ContentStore, ref: ImageRef, digest: str, policy: m.Policy, trusted_root: Any,
                    progress: Progress | None = None, now: dt.datetime | None = None,
                    verification: Verification | None = None) -> PolicyReport:
    """Verify `digest` in `store`. A `verification` shared between calls checks each bundle's
    cryptography once (a promotion verifies the same bundles at the source and the destination;
    where each is attached, and the rules, are evaluated again every time)."""
    v = verification or Verification(policy, trusted_root)
    evidence = gather_evidence(store, str(ref.with_digest(digest)), digest, v, progress)
    return evaluate(policy, evidence, now)


def verify_image(image: str | ImageRef, policy: m.Policy, *, trust_config: str | None = None,
                 registry_options: RegistryOptions | None = None, progress: Progress | None = None,
                 now: dt.datetime | None = None) -> PolicyReport:
    """Verify `image` against `policy`. The report says pass/fail per rule; it never raises for a
    policy failure (the CLI exits 1 on `not report.passed`)."""
    progress = progress or SilentProgress()
    ref = parse_image_ref(image) if isinstance(image, str) else image
    trusted_root = load_trusted_root(trust_config, policy)
    store = open_store(ref, registry_options)
    share_cache(store)
    progress.step("resolve", str(ref))
    digest = resolve_once(store, ref)
    progress.done("resolve", digest)
    return verify_in_store(store, ref, digest, policy, trusted_root, progress, now)


MAX_VERIFY_BATCH = 1000


@dataclass(frozen=True)
class BatchVerification:
    """One image of `verify --batch`: its report, or the error that kept it from being judged."""

    image: str
    report: PolicyReport | None = None
    error: Error | None = None

    @property
    def status(self) -> str:
        if self.report is None:
            return "error"
        return "pass" if self.report.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"image": self.image, "status": self.status, "ok": self.status == "pass"}
        if self.report is not None:
            out["report"] = self.report.to_dict()
        if self.error is not None:
            out["error"] = self.error.to_dict()
        return out


def load_verify_batch(path: str) -> list[str]:
    """A YAML or JSON file `images: [REF, ...]`, or plain text with one reference a line."""
    from supplychain.errors import UsageError
    from supplychain.strictdoc import load_yaml, read_config_file

    raw = read_config_file(path, "the batch file")
    text = raw.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    images: Any = lines
    if lines and lines[0].startswith(("images", "{")):   # a document, not a list of lines
        doc = load_yaml(raw, f"the batch file {path}")
        images = doc.get("images") if isinstance(doc, dict) and set(doc) == {"images"} else None
    if not isinstance(images, list) or not images or \
            not all(isinstance(i, str) and i and " " not in i for i in images):
        raise UsageError(f"the batch file {path} must list images",
                         expected="images: [REF, ...] (YAML or JSON), or one reference a line")
    if len(images) > MAX_VERIFY_BATCH:
        raise UsageError(f"too many images in {path}", expected=f"at most {MAX_VERIFY_BATCH}",
                         found=str(len(images)))
    if len(set(images)) != len(images):
        raise UsageError(f"the batch file {path} lists an image twice")
    for image in images:
        parse_image_ref(image)   # a malformed reference is a usage error before any request
    return list(images)


def batch_report(results: list[BatchVerification]) -> dict[str, Any]:
    """The JSON document of `verify --batch`: a summary and every image's report or error."""
    summary = {"total": len(results)}
    summary |= {k: sum(r.status == k for r in results) for k in ("pass", "fail", "error")}
    return {"ok": summary["pass"] == len(results), "summary": summary,
            "results": [r.to_dict() for r in results]}


def verify_batch(images: list[str], policy: m.Policy, *, trust_config: str | None = None,
                 registry_options: RegistryOptions | None = None, concurrency: int = 4,
                 progress: Progress | None = None,
                 now: dt.datetime | None = None) -> list[BatchVerification]:
    """Verify many images against one policy in one process: the trusted root is loaded once,
    and each distinct bundle's cryptography and identity are checked once (the same bundle bytes
    give the same answer under the same policy). Where each bundle is attached, its subject, and
    every rule are judged for each image on its own, exactly as `verify_image` does."""
    from concurrent.futures import ThreadPoolExecutor

    progress = progress or SilentProgress()
    shared = Verification(policy, load_trusted_root(trust_config, policy))

    def one(image: str) -> BatchVerification:
        try:
            ref = parse_image_ref(image)
            store = open_store(ref, registry_options)
            share_cache(store)
            digest = resolve_once(store, ref)
            report = verify_in_store(store, ref, digest, policy, shared.trusted_root, now=now,
                                     verification=shared)
        except Error as exc:
            progress.done("verify", f"{image}: error")
            return BatchVerification(image, error=exc)
        progress.done("verify", f"{image}: {'pass' if report.passed else 'fail'}")
        return BatchVerification(image, report=report)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, 16))) as pool:
        return list(pool.map(one, images))
