"""`sign_image` and `attest_image`: the library entry points behind `sccheck sign|attest`.

Order: resolve the image once to a digest, build the statement, obtain a complete bundle
(certificate, log entry, timestamp; or the key signature), and only then attach it. A failure
before the end leaves no referrer; a bundle is never attached half-made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from supplychain.errors import UsageError
from supplychain.image.descriptor import compute_digest
from supplychain.image.open import open_store
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.progress import Progress, SilentProgress
from supplychain.signing.keyless import SignedBundle, load_trust_config, sign_keyless
from supplychain.signing.keys import load_signing_key, password_from_env
from supplychain.signing.keysign import sign_with_key
from supplychain.signing.statement import COSIGN_SIGN_PREDICATE, build_statement, image_subjects
from supplychain.signing.storage import attach_bundle
from supplychain.signing.tokens import resolve_identity_token


@dataclass(frozen=True)
class SignResult:
    reference: str                 # the image by digest
    digest: str
    predicate_type: str
    mode: str                      # "keyless" | "key"
    subjects: tuple[str, ...]      # statement subject digests
    bundle_digest: str
    referrer_digest: str           # the referrer attached to `digest`
    referrers: tuple[str, ...]     # every referrer written (one per subject for an index)
    log_index: int | None
    timestamps: int
    identity: str | None
    issuer: str | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["subjects"] = list(self.subjects)
        out["referrers"] = list(self.referrers)
        return out


def _sign(ref: ImageRef | str, predicate_type: str, predicate: dict[str, Any], *,
          trust_config: str | None, identity_token: str | None, key: str | None,
          key_password: str | None, rekor_url: str | None, registry_options: Any,
          progress: Progress) -> SignResult:
    image = parse_image_ref(ref) if isinstance(ref, str) else ref
    if key and identity_token:
        raise UsageError("--key and --identity-token exclude each other",
                         fix="sign either with a key or keyless with an identity token")
    # Everything local is checked before any service is contacted.
    signing_key = token = tc = None
    if key:
        signing_key = load_signing_key(key, key_password if key_password is not None else password_from_env())
    else:
        token = resolve_identity_token(identity_token)
        tc = load_trust_config(trust_config)
    store = open_store(image, registry_options=registry_options)
    progress.step("resolve", str(image))
    desc = store.resolve(image.identifier)
    digest = desc.digest
    if image.digest and image.digest != digest:
        raise UsageError("the store answered with another digest than the reference pins",
                         expected=image.digest, found=digest)
    subject_desc, subjects, platforms = image_subjects(store, image.name, digest)
    progress.done("resolve", digest)
    statement = build_statement(subjects, predicate_type, predicate)
    progress.step("sign", "with a key" if key else f"keyless ({token.source if token else ''})")
    signed: SignedBundle
    if signing_key is not None:
        signed = sign_with_key(statement, signing_key, rekor_url)
    else:
        assert token is not None
        signed = sign_keyless(statement, token, tc)
    progress.done("sign", f"log index {signed.log_index}" if signed.log_index is not None else "no log entry")
    progress.step("attach", store.describe())
    written = [attach_bundle(store, subject_desc, signed.bundle, predicate_type)]
    written += [attach_bundle(store, p, signed.bundle, predicate_type) for p in platforms]
    progress.done("attach", written[0])
    return SignResult(
        reference=image.with_digest(digest).by_digest(), digest=digest, predicate_type=predicate_type,
        mode=signed.mode, subjects=statement.subject_digests, bundle_digest=compute_digest(signed.bundle),
        referrer_digest=written[0], referrers=tuple(written), log_index=signed.log_index,
        timestamps=signed.timestamps, identity=signed.identity, issuer=signed.issuer,
    )


def sign_image(ref: ImageRef | str, *, trust_config: str | None = None, identity_token: str | None = None,
               key: str | None = None, key_password: str | None = None, rekor_url: str | None = None,
               registry_options: Any = None, progress: Progress | None = None) -> SignResult:
    """Sign an image the way `cosign sign` does: a DSSE statement with the cosign sign predicate."""
    return _sign(ref, COSIGN_SIGN_PREDICATE, {}, trust_config=trust_config,
                 identity_token=identity_token, key=key, key_password=key_password,
                 rekor_url=rekor_url, registry_options=registry_options,
                 progress=progress or SilentProgress())


def attest_image(ref: ImageRef | str, predicate_type: str, predicate: dict[str, Any], *,
                 trust_config: str | None = None, identity_token: str | None = None,
                 key: str | None = None, key_password: str | None = None, rekor_url: str | None = None,
                 registry_options: Any = None, progress: Progress | None = None) -> SignResult:
    """Attest a predicate about an image (SLSA provenance, SBOM, vulns, tests, hardening)."""
    from supplychain.attest.predicates import validate_predicate

    validate_predicate(predicate_type, predicate)
    return _sign(ref, predicate_type, predicate, trust_config=trust_config,
                 identity_token=identity_token, key=key, key_password=key_password,
                 rekor_url=rekor_url, registry_options=registry_options,
                 progress=progress or SilentProgress())
