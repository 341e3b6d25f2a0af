"""Sigstore bundles stored next to an image as OCI 1.1 referrer manifests, as cosign v3 does.

An artifact manifest: artifactType = the bundle media type, the empty `{}` config, one layer
(the bundle JSON), `subject` = the signed image manifest, annotations
BUNDLE_CONTENT_ANNOTATION = `dsse-envelope`, BUNDLE_PREDICATE_ANNOTATION = the predicate type
(both named in the evidence vocabulary) and `org.opencontainers.image.created`. The store
decides how referrers are indexed: the OCI 1.1 referrers API, or the `sha256-<hex>` tag index
where a registry has none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from supplychain.attest.vocabulary import BUNDLE_CONTENT_ANNOTATION, BUNDLE_PREDICATE_ANNOTATION
from supplychain.errors import Error, SigningError
from supplychain.image.descriptor import (
    EMPTY_JSON,
    Descriptor,
    MediaType,
    canonical_json,
    parse_manifest,
)
from supplychain.image.store import ContentStore
from supplychain.signing.bundle import BUNDLE_MEDIA_TYPE, MAX_BUNDLE_BYTES, BundleFacts, bundle_facts

CREATED_ANNOTATION = "org.opencontainers.image.created"
MAX_BUNDLES = 256


@dataclass(frozen=True)
class StoredBundle:
    referrer_digest: str
    predicate_type: str | None
    created: str | None
    bundle: bytes
    facts: BundleFacts


def referrer_manifest(subject: Descriptor, bundle_desc: Descriptor, predicate_type: str,
                      created: datetime | None = None) -> bytes:
    when = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {"mediaType": MediaType.OCI_EMPTY, "digest": Descriptor.for_bytes(
            MediaType.OCI_EMPTY, EMPTY_JSON).digest, "size": len(EMPTY_JSON)},
        "layers": [bundle_desc.to_dict()],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
        "annotations": {
            BUNDLE_CONTENT_ANNOTATION: "dsse-envelope",
            BUNDLE_PREDICATE_ANNOTATION: predicate_type,
            CREATED_ANNOTATION: when,
        },
    }
    return canonical_json(doc)


def attach_bundle(store: ContentStore, subject: Descriptor, bundle: bytes, predicate_type: str,
                  created: datetime | None = None, *, fresh: bool = False) -> str:
    """Upload the bundle and its referrer manifest; returns the referrer manifest's digest.
    Blobs go first, the manifest last: a failure leaves no referrer pointing at the image.
    `fresh`: the bundle was just made (a new signature), so no store can hold it yet."""
    return _attach(store, subject, bundle, predicate_type, created, fresh=fresh, index=True)[0]


def attach_bundles(store: ContentStore, subjects: list[Descriptor], bundle: bytes, predicate_type: str,
                   *, fresh: bool = False) -> list[str]:
    """`attach_bundle` for each subject (the bundle is uploaded once); returns the referrers'
    digests. Where the store lists referrers in a second index (a registry's fallback index),
    every referrer is written first and then listed in its subject's index, the subjects side by
    side: each merge waits to read its write back, and those waits overlap instead of adding up."""
    together = len(subjects) > 1 and store.shared()
    made = [_attach(store, s, bundle, predicate_type, None, fresh=fresh and i == 0, index=not together)
            for i, s in enumerate(subjects)]
    if together:
        from concurrent.futures import ThreadPoolExecutor

        from supplychain.registry.referrers import referrer_descriptor  # only a registry lists twice

        def index(pair: tuple[Descriptor, tuple[str, bytes]]) -> int:
            subject, (digest, manifest) = pair
            entry = referrer_descriptor(json.loads(manifest), MediaType.OCI_MANIFEST, digest, len(manifest))
            try:
                return store.index_referrers(subject.digest, [entry])
            except Error as exc:
                raise _refused(store, exc) from None

        with ThreadPoolExecutor(max_workers=min(8, len(subjects)), thread_name_prefix="sccheck-list") as pool:
            list(pool.map(index, zip(subjects, made, strict=True)))
    return [digest for digest, _ in made]


def _attach(store: ContentStore, subject: Descriptor, bundle: bytes, predicate_type: str,
            created: datetime | None, *, fresh: bool, index: bool) -> tuple[str, bytes]:
    bundle_desc = Descriptor.for_bytes(BUNDLE_MEDIA_TYPE, bundle)
    manifest = referrer_manifest(subject, bundle_desc, predicate_type, created)
    try:
        store.write_blob(EMPTY_JSON, Descriptor.for_bytes(MediaType.OCI_EMPTY, EMPTY_JSON))
        if fresh:
            store.expect_new_blob(bundle_desc.digest)
        store.write_blob(bundle, bundle_desc)
        return store.write_manifest(manifest, MediaType.OCI_MANIFEST, index=index), manifest
    except Error as exc:
        raise _refused(store, exc) from None


def _refused(store: ContentStore, exc: Error) -> SigningError:
    return SigningError(
        f"{store.describe()} refused the signature referrer",
        expected=f"write access to {store.describe()} (blobs and a manifest with a subject)",
        found=exc.message,
        fix="log in to the registry (or pass its credentials) and sign again; the bundle itself "
            "is valid and logged, but it is not attached",
        facts={k: v for k, v in exc.facts.items() if k != "token"},
    )


def list_bundles(store: ContentStore, digest: str, *, predicate_type: str | None = None,
                 limit: int = MAX_BUNDLES) -> list[StoredBundle]:
    """The Sigstore bundles attached to `digest` (newest first when dated), read and checked:
    each referrer must be an artifact manifest with one bundle layer whose subject is `digest`."""
    found: list[StoredBundle] = []
    referrers = store.referrers(digest, BUNDLE_MEDIA_TYPE)
    for ref in referrers[:limit]:
        data, media_type, got = store.read_manifest(ref.digest)
        if got != ref.digest:
            raise SigningError("a referrer manifest does not match its digest",
                               expected=ref.digest, found=got)
        doc = parse_manifest(data, media_type)
        if (doc.get("subject") or {}).get("digest") != digest:
            continue
        layers = doc.get("layers") or []
        if len(layers) != 1:
            continue
        layer = Descriptor.from_dict(layers[0])
        if not layer.media_type.startswith("application/vnd.dev.sigstore.bundle"):
            continue
        if layer.size > MAX_BUNDLE_BYTES:
            raise SigningError(f"the bundle in referrer {ref.digest} is too large",
                               expected=f"at most {MAX_BUNDLE_BYTES} bytes", found=f"{layer.size} bytes")
        annotations = doc.get("annotations") or {}
        ptype = annotations.get(BUNDLE_PREDICATE_ANNOTATION)
        if predicate_type and ptype and ptype != predicate_type:
            continue
        bundle = store.read_blob(layer)
        found.append(StoredBundle(ref.digest, ptype, annotations.get(CREATED_ANNOTATION), bundle,
                                  bundle_facts(bundle)))
    found.sort(key=lambda b: b.created or "", reverse=True)
    return found
