"""`sign_image` and `attest_image`: the library entry points behind `sccheck sign|attest`.

Order: resolve the image once to a digest, build the statement, obtain a complete bundle
(certificate, log entry, timestamp; or the key signature), and only then attach it. A failure
before the end leaves no referrer; a bundle is never attached half-made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from supplychain.attest.statement import Subject, build_statement
from supplychain.attest.vocabulary import COSIGN_SIGN
from supplychain.errors import UsageError
from supplychain.image.descriptor import Descriptor, compute_digest
from supplychain.image.platform import Platform
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.image.store import ContentStore
from supplychain.image.view import find_platform, open_image
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.signing.keyless import SignedBundle, load_trust_config, sign_keyless
from supplychain.signing.keys import load_signing_key, password_from_env
from supplychain.signing.keysign import sign_with_key
from supplychain.signing.storage import attach_bundles
from supplychain.signing.tokens import resolve_identity_token
from supplychain.stores import open_store


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
    platform: str | None = None    # set when attested for one platform of an index

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["subjects"] = list(self.subjects)
        out["referrers"] = list(self.referrers)
        return out


def evidence_targets(store: ContentStore, digest: str, platform: Platform | None = None
                     ) -> tuple[list[Descriptor], str | None]:
    """Where evidence about `digest` goes (docs/signing.md, "Evidence layout"): the statement
    names, and the bundle is attached to, the image itself and every runnable child of an index;
    with `platform`, the index and that platform's child only. Returns the descriptors (the image
    first) and the platform chosen."""
    view = open_image(store, digest)
    top = view.top_descriptor()
    if platform is not None:
        image = find_platform(view, platform)
        if not view.is_index:
            return [top], image.platform_name
        return [top, image.top_descriptor()], image.platform_name
    if not view.is_index:
        return [top], None
    children = [image.top_descriptor() for image in view.runnable()]
    if not children:
        raise UsageError(f"the index {digest} has no runnable image to sign",
                         found="only attestation manifests or non-image entries",
                         fix="sign an index that lists platform images")
    return [top, *children], None


def _sign(ref: ImageRef | str, predicate_type: str, predicate: dict[str, Any], *,
          platform: str | Platform | None = None, trust_config: str | None,
          identity_token: str | None, key: str | None,
          key_password: str | None, rekor_url: str | None, registry_options: RegistryOptions | None,
          progress: Progress) -> SignResult:
    image = parse_image_ref(ref) if isinstance(ref, str) else ref
    if key and identity_token:
        raise UsageError("--key and --identity-token exclude each other",
                         fix="sign either with a key or keyless with an identity token")
    # Everything local is checked before any service is contacted.
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    signing_key, token, tc = _material(key, key_password, identity_token, trust_config)
    store = open_store(image, registry_options)
    progress.step("resolve", str(image))
    desc = store.resolve(image.identifier)
    digest = desc.digest
    if image.digest and image.digest != digest:
        raise UsageError("the store answered with another digest than the reference pins",
                         expected=image.digest, found=digest)
    targets, chosen = evidence_targets(store, digest, wanted)
    progress.done("resolve", digest + (f" ({chosen})" if chosen else ""))
    return _sign_targets(store, image, digest, targets, chosen, predicate_type, predicate,
                         signing_key=signing_key, token=token, tc=tc, key=key, rekor_url=rekor_url,
                         progress=progress)


def _material(key: str | None, key_password: str | None, identity_token: str | None,
              trust_config: str | None) -> tuple[Any, Any, Any]:
    """(signing key, identity token, trust config): a key, or what keyless signing needs."""
    if key:
        password = key_password if key_password is not None else password_from_env()
        return load_signing_key(key, password), None, None
    return None, resolve_identity_token(identity_token), load_trust_config(trust_config)


def _sign_targets(store: ContentStore, image: ImageRef, digest: str, targets: list[Descriptor],
                  chosen: str | None, predicate_type: str, predicate: dict[str, Any], *, signing_key: Any,
                  token: Any, tc: Any, key: str | None, rekor_url: str | None,
                  progress: Progress) -> SignResult:
    subjects = [Subject(image.name, t.digest) for t in targets]
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
    written = attach_bundles(store, targets, signed.bundle, predicate_type, fresh=True)
    progress.done("attach", written[0])
    return SignResult(
        reference=image.with_digest(digest).by_digest(), digest=digest, predicate_type=predicate_type,
        mode=signed.mode, subjects=statement.subject_digests, bundle_digest=compute_digest(signed.bundle),
        referrer_digest=written[0], referrers=tuple(written), log_index=signed.log_index,
        timestamps=signed.timestamps, identity=signed.identity, issuer=signed.issuer, platform=chosen,
    )


def sign_image(ref: ImageRef | str, *, trust_config: str | None = None, identity_token: str | None = None,
               key: str | None = None, key_password: str | None = None, rekor_url: str | None = None,
               registry_options: RegistryOptions | None = None,
               progress: Progress | None = None) -> SignResult:
    """Sign an image the way `cosign sign` does: a DSSE statement with the cosign sign predicate."""
    return _sign(ref, COSIGN_SIGN, {}, trust_config=trust_config,
                 identity_token=identity_token, key=key, key_password=key_password,
                 rekor_url=rekor_url, registry_options=registry_options,
                 progress=progress or SilentProgress())


def attest_in_store(store: ContentStore, image: ImageRef, digest: str, predicate_type: str,
                    predicate: dict[str, Any], *, trust_config: str | None = None,
                    identity_token: str | None = None, key: str | None = None,
                    key_password: str | None = None, rekor_url: str | None = None,
                    progress: Progress | None = None) -> SignResult:
    """Attest about `digest` in a store the caller has open and has verified holds it (the
    promotion's summary): no second resolve, and the store's cached manifests are reused.
    Evidence goes where `evidence_targets` says, as with `attest_image`."""
    from supplychain.attest.predicates import validate_predicate

    validate_predicate(predicate_type, predicate)
    signing_key, token, tc = _material(key, key_password, identity_token, trust_config)
    targets, chosen = evidence_targets(store, digest)
    return _sign_targets(store, image, digest, targets, chosen, predicate_type, predicate,
                         signing_key=signing_key, token=token, tc=tc, key=key, rekor_url=rekor_url,
                         progress=progress or SilentProgress())


def attest_image(ref: ImageRef | str, predicate_type: str, predicate: dict[str, Any], *,
                 platform: str | Platform | None = None, trust_config: str | None = None,
                 identity_token: str | None = None,
                 key: str | None = None, key_password: str | None = None, rekor_url: str | None = None,
                 registry_options: RegistryOptions | None = None,
                 progress: Progress | None = None) -> SignResult:
    """Attest a predicate about an image (SLSA provenance, SBOM, vulns, tests, hardening).

    Without `platform`, the statement is about the image and, for an index, every runnable
    child. With `platform` ("linux/arm64"), about one platform of an index: subjects = the index
    and that child, attached to both (how per-platform evidence such as an SBOM is laid out)."""
    from supplychain.attest.predicates import validate_predicate

    validate_predicate(predicate_type, predicate)
    return _sign(ref, predicate_type, predicate, platform=platform, trust_config=trust_config,
                 identity_token=identity_token, key=key, key_password=key_password,
                 rekor_url=rekor_url, registry_options=registry_options,
                 progress=progress or SilentProgress())
