"""cosign's legacy tag formats, read and verified: `sha256-<hex>.sig` and `sha256-<hex>.att`.

Images signed by cosign v2 and older tools carry their evidence in two tags beside the image
instead of Sigstore bundles stored as referrers. Each is an image manifest whose layers are the
signatures:

- `.sig`: one layer per signature, media type `application/vnd.dev.cosign.simplesigning.v1+json`
  (the "simple signing" payload naming the signed manifest digest); the signature is the layer's
  annotation `dev.cosignproject.cosign/signature` (base64, over the payload bytes).
- `.att`: one layer per attestation, media type `application/vnd.dsse.envelope.v1+json` (a DSSE
  envelope around an in-toto statement; its signature is over the DSSE PAE).

Beside them, optional annotations: `dev.sigstore.cosign/certificate` and `/chain` (keyless),
`dev.sigstore.cosign/bundle` (the Rekor v1 log entry with its signed entry timestamp, SET).

What is verified, against the policy and the trusted root only:
- signed with a key: the signature with a policy public key; the SET, when there is one, with a
  log key of the trusted root, and its logged body must name this payload and this signature;
  without a SET the key must say `UnsafeNoTransparencyLog`;
- keyless signatures (`.sig` with a certificate): turned into the Sigstore bundle they are
  (v0.1, hashedrekord v0.0.1 with its inclusion promise) and verified by sigstore-python like
  every bundle: certificate chain to Fulcio at the logged time, SCT, SET, the policy identity;
  this needs the trusted root to hold the Rekor v1 key that signed the SET;
- keyless attestations (`.att` with a certificate) are logged as `intoto` v0.0.2 entries, which
  sigstore-python's verifier does not support: they are refused with that reason.

Each layer that verifies becomes an in-toto statement like a bundle's (a `.sig` as the cosign
signature statement naming the digest it signs), so the policy's rules judge both formats alike.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from supplychain.attest.vocabulary import COSIGN_SIGN, INTOTO_PAYLOAD_TYPE, STATEMENT_V1
from supplychain.errors import Error, ImageError, ImageNotFound
from supplychain.image.descriptor import Descriptor, parse_manifest
from supplychain.image.store import ContentStore
from supplychain.policy import model as m
from supplychain.policy.evidence import Signer
from supplychain.policy.keyverify import pae, verify_signature
from supplychain.strictdoc import load_json

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_LAYER = "application/vnd.dsse.envelope.v1+json"
A_SIGNATURE = "dev.cosignproject.cosign/signature"
A_CERTIFICATE = "dev.sigstore.cosign/certificate"
A_CHAIN = "dev.sigstore.cosign/chain"
A_BUNDLE = "dev.sigstore.cosign/bundle"
SIMPLE_SIGNING_TYPE = "cosign container image signature"
MAX_LAYERS = 64
FORMATS = ("bundle", "legacy")


class LegacyRejected(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage, self.reason = stage, reason


@dataclass(frozen=True)
class LegacyLayer:
    """One signature or attestation layer of a legacy tag, verified."""

    digest: str                  # the layer's digest (where the evidence lives)
    tag: str                     # "sha256-<hex>.sig"
    statement: dict[str, Any]
    signer: Signer
    signed_at: dt.datetime | None


@dataclass(frozen=True)
class LegacyRejection:
    digest: str
    tag: str
    predicate_type: str
    stage: str
    reason: str


def legacy_tag(digest: str, suffix: str) -> str:
    """cosign's tag for a digest: sha256:abc... -> sha256-abc....sig"""
    return digest.replace(":", "-", 1) + suffix


def _b64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        raise LegacyRejected("bundle", f"{what} is not base64") from None


def _set_entry(annotations: dict[str, str]) -> dict[str, Any] | None:
    """The Rekor v1 entry cosign stores in `dev.sigstore.cosign/bundle`, or None."""
    raw = annotations.get(A_BUNDLE)
    if not raw:
        return None
    try:
        doc = load_json(raw.encode(), "the legacy log bundle", max_bytes=1 << 20)
        payload = doc["Payload"]
        entry = {"set": _b64(doc["SignedEntryTimestamp"], "the SET"),
                 "body": str(payload["body"]), "integratedTime": int(payload["integratedTime"]),
                 "logIndex": int(payload["logIndex"]), "logID": str(payload["logID"])}
    except (KeyError, TypeError, ValueError, Error):
        raise LegacyRejected("log", "the dev.sigstore.cosign/bundle annotation is not a Rekor v1 "
                                    "entry (SignedEntryTimestamp, Payload{body, integratedTime, "
                                    "logIndex, logID})") from None
    return entry


def _verify_set(entry: dict[str, Any], trusted_root: Any) -> dt.datetime:
    """Check the SET with the trusted root's log keys; the logged time, verified."""
    import rfc8785
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import VerificationError

    if trusted_root is None:
        raise LegacyRejected("log", "the signature has a Rekor v1 SET but no trusted root was given to "
                                    "check it against (pass --trust-config)")
    signed = rfc8785.dumps({"body": entry["body"], "integratedTime": entry["integratedTime"],
                            "logID": entry["logID"], "logIndex": entry["logIndex"]})
    try:
        key_id = bytes.fromhex(entry["logID"])
        trusted_root.rekor_keyring(KeyringPurpose.VERIFY).verify(key_id=key_id, signature=entry["set"],
                                                                 data=signed)
    except (VerificationError, ValueError) as exc:
        raise LegacyRejected("log", f"its Rekor v1 SET (log {entry['logID'][:16]}…) does not verify with any "
                                    "log key of the trusted root; verifying a legacy signature's SET needs "
                                    f"the Rekor v1 key that signed it in the trusted root ({exc})") from None
    return dt.datetime.fromtimestamp(entry["integratedTime"], dt.UTC)


def _logged_body(entry: dict[str, Any]) -> dict[str, Any]:
    try:
        body = load_json(_b64(entry["body"], "the logged body"), "the logged body")
    except Error:
        raise LegacyRejected("log", "the logged body is not JSON") from None
    if not isinstance(body, dict):
        raise LegacyRejected("log", "the logged body is not an object")
    return body


def _check_binding(entry: dict[str, Any], payload: bytes, signature: bytes) -> None:
    """The logged entry must be about this payload and this signature, not another artifact."""
    body = _logged_body(entry)
    spec: dict[str, Any] = body["spec"] if isinstance(body.get("spec"), dict) else {}
    kind = body.get("kind")
    want = hashlib.sha256(payload).hexdigest()
    if kind == "hashedrekord":
        logged_hash = ((spec.get("data") or {}).get("hash") or {}).get("value")
        logged_sig = (spec.get("signature") or {}).get("content")
        ok = logged_hash == want and logged_sig == base64.b64encode(signature).decode()
    elif kind == "intoto":
        content: dict[str, Any] = spec["content"] if isinstance(spec.get("content"), dict) else {}
        ok = (content.get("payloadHash") or {}).get("value") == want
    else:
        raise LegacyRejected("log", f"the logged entry is of kind {kind!r}, expected hashedrekord or intoto")
    if not ok:
        raise LegacyRejected("log", "the transparency log entry is for another artifact or signature")


def _key_match(keys: list[m.KeyIdentity], data: bytes, signature: bytes) -> m.KeyIdentity:
    if not keys:
        raise LegacyRejected("identity", "signed with a key, but the policy allows no public key")
    match = next((k for k in keys if verify_signature(k.public_key_pem, data, signature)), None)
    if match is None:
        raise LegacyRejected("identity", "the signature does not verify with any public key of the policy")
    return match


def _key_signed(policy: m.Policy, trusted_root: Any, annotations: dict[str, str], signed_bytes: bytes,
                signature: bytes, payload: bytes) -> tuple[Signer, dt.datetime | None]:
    keys = [i for i in policy.identities.children if isinstance(i, m.KeyIdentity)]
    match = _key_match(keys, signed_bytes, signature)
    entry = _set_entry(annotations)
    if entry is None:
        if not match.unsafe_no_transparency_log:
            raise LegacyRejected("log", "the legacy signature has no transparency log entry "
                                        "(dev.sigstore.cosign/bundle); the policy would need "
                                        "UnsafeNoTransparencyLog: true for this key")
        return Signer("key", key_name=match.name), None
    when = _verify_set(entry, trusted_root)
    _check_binding(entry, payload, signature)
    return Signer("key", key_name=match.name), when


def _keyless_signature(policy: m.Policy, trusted_root: Any, annotations: dict[str, str], payload: bytes,
                       signature: bytes) -> tuple[Signer, dt.datetime | None]:
    """A keyless `.sig` as the Sigstore bundle it is (v0.1), verified by sigstore-python."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle
    from sigstore.verify import Verifier

    from supplychain.policy.identity import IdentityGate

    keyless = [i for i in policy.identities.children if isinstance(i, m.KeylessIdentity)]
    if not keyless:
        raise LegacyRejected("identity", "signed keyless (certificate), but the policy allows only "
                                         "public keys")
    entry = _set_entry(annotations)
    if entry is None:
        raise LegacyRejected("log", "the keyless legacy signature carries no Rekor v1 SET "
                                    "(dev.sigstore.cosign/bundle): nothing shows its short-lived "
                                    "certificate was valid when it signed")
    when = _verify_set(entry, trusted_root)
    _check_binding(entry, payload, signature)
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(annotations[A_CERTIFICATE].encode())
    except ValueError:
        raise LegacyRejected("bundle", "the dev.sigstore.cosign/certificate annotation is not a PEM "
                                       "certificate") from None
    from cryptography.hazmat.primitives.serialization import Encoding

    body = _logged_body(entry)
    bundle_doc = {
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [
                {"rawBytes": base64.b64encode(cert.public_bytes(Encoding.DER)).decode()}]},
            "tlogEntries": [{
                "logIndex": str(entry["logIndex"]), "logId": {"keyId": base64.b64encode(
                    bytes.fromhex(entry["logID"])).decode()},
                "kindVersion": {"kind": str(body.get("kind")), "version": str(body.get("apiVersion"))},
                "integratedTime": str(entry["integratedTime"]),
                "inclusionPromise": {"signedEntryTimestamp": base64.b64encode(entry["set"]).decode()},
                "canonicalizedBody": entry["body"]}]},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(
            hashlib.sha256(payload).digest()).decode()}, "signature": base64.b64encode(signature).decode()},
    }
    gate = IdentityGate(keyless)
    try:
        bundle = Bundle.from_json(json.dumps(bundle_doc))
        Verifier(trusted_root=trusted_root).verify_artifact(payload, bundle, gate)
    except SigstoreError as exc:
        raise LegacyRejected("bundle", f"the keyless legacy signature does not verify: {exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise LegacyRejected("bundle", f"the keyless legacy signature is malformed: {exc}") from None
    assert gate.matched is not None
    return Signer("keyless", gate.matched.issuer, gate.sans[0] if gate.sans else "",
                  claims=dict(gate.claims)), when


def _signature_layer(policy: m.Policy, trusted_root: Any, annotations: dict[str, str],
                     payload: bytes) -> tuple[dict[str, Any], Signer, dt.datetime | None]:
    try:
        doc = load_json(payload, "the simple signing payload")
        critical = doc["critical"]
        signed_digest = critical["image"]["docker-manifest-digest"]
        kind = critical["type"]
    except (KeyError, TypeError, Error):
        raise LegacyRejected("statement", "the simple signing payload lacks critical.image."
                                          "docker-manifest-digest or critical.type") from None
    if kind != SIMPLE_SIGNING_TYPE:
        raise LegacyRejected("statement", f"the simple signing payload's type is {kind!r}, expected "
                                          f"{SIMPLE_SIGNING_TYPE!r}")
    signature = _b64(annotations.get(A_SIGNATURE), "the dev.cosignproject.cosign/signature annotation")
    if A_CERTIFICATE in annotations:
        signer, when = _keyless_signature(policy, trusted_root, annotations, payload, signature)
    else:
        signer, when = _key_signed(policy, trusted_root, annotations, payload, signature, payload)
    alg, _, hexpart = str(signed_digest).partition(":")
    statement = {"_type": STATEMENT_V1, "subject": [{"name": "", "digest": {alg: hexpart}}],
                 "predicateType": COSIGN_SIGN, "predicate": {}}
    return statement, signer, when


def _attestation_layer(policy: m.Policy, trusted_root: Any, annotations: dict[str, str],
                       raw: bytes) -> tuple[dict[str, Any], Signer, dt.datetime | None]:
    try:
        env = load_json(raw, "the DSSE envelope")
        payload_type = env["payloadType"]
        payload = _b64(env["payload"], "the DSSE payload")
        sigs = env["signatures"]
    except (KeyError, TypeError, Error):
        raise LegacyRejected("bundle", "the layer is not a DSSE envelope (payloadType, payload, "
                                       "signatures)") from None
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise LegacyRejected("statement", f"DSSE payloadType is {payload_type!r}, expected "
                                          f"{INTOTO_PAYLOAD_TYPE!r}")
    if not isinstance(sigs, list) or len(sigs) != 1 or not isinstance(sigs[0], dict):
        raise LegacyRejected("bundle", "the DSSE envelope must carry exactly one signature")
    if A_CERTIFICATE in annotations:
        raise LegacyRejected("bundle", "a keyless legacy attestation is logged as an intoto v0.0.2 entry, "
                                       "which sccheck cannot verify (Sigstore's verifier checks dsse v0.0.1 "
                                       "and hashedrekord entries only); re-attest the image in the bundle "
                                       "format (cosign v3, or sccheck attest)")
    signature = _b64(sigs[0].get("sig"), "the DSSE signature")
    signer, when = _key_signed(policy, trusted_root, annotations, pae(payload_type, payload), signature,
                               payload)
    try:
        statement = load_json(payload, "the in-toto statement")
    except Error as exc:
        raise LegacyRejected("statement", exc.message) from None
    if not isinstance(statement, dict):
        raise LegacyRejected("statement", "the in-toto statement is not an object")
    return statement, signer, when


def read_legacy(store: ContentStore, target: str, policy: m.Policy, trusted_root: Any
                ) -> tuple[list[LegacyLayer], list[LegacyRejection]]:
    """Every signature (`.sig`) and attestation (`.att`) layer in the legacy tags of `target`.
    A tag that is not there is no evidence; a tag that cannot be read for a network reason raises
    (the caller says "could not check"); a layer that fails a check is a rejection, with why."""
    found: list[LegacyLayer] = []
    rejected: list[LegacyRejection] = []
    for suffix in (".sig", ".att"):
        tag = legacy_tag(target, suffix)
        try:
            data, media_type, _ = store.read_manifest(tag)
        except ImageNotFound:
            continue
        try:
            doc = parse_manifest(data, media_type)
            layers = [Descriptor.from_dict(x) for x in doc.get("layers") or []]
        except ImageError as exc:
            rejected.append(LegacyRejection("", tag, "", "bundle", f"the {tag} manifest: {exc.message}"))
            continue
        if len(layers) > MAX_LAYERS:
            rejected.append(LegacyRejection("", tag, "", "limits",
                                            f"{tag} has {len(layers)} layers; only {MAX_LAYERS} were read"))
            layers = layers[:MAX_LAYERS]
        for layer in layers:
            annotations = dict(layer.annotations or {})
            claimed = annotations.get("predicateType", COSIGN_SIGN if suffix == ".sig" else "")
            try:
                want = SIMPLE_SIGNING if suffix == ".sig" else DSSE_LAYER
                if layer.media_type != want:
                    raise LegacyRejected("bundle", f"a {suffix} layer must be {want}, "
                                                   f"found {layer.media_type}")
                if layer.size > policy.max_bundle_bytes:
                    raise LegacyRejected("limits", f"the layer is {layer.size} bytes, more than "
                                                   f"{policy.max_bundle_bytes} (limits.maxBundleBytes)")
                raw = store.read_blob(layer)
                if suffix == ".sig":
                    statement, signer, when = _signature_layer(policy, trusted_root, annotations, raw)
                else:
                    statement, signer, when = _attestation_layer(policy, trusted_root, annotations, raw)
                found.append(LegacyLayer(layer.digest, tag, statement, signer, when))
            except LegacyRejected as exc:
                rejected.append(LegacyRejection(layer.digest, tag, claimed, exc.stage, exc.reason))
            except ImageError as exc:
                rejected.append(LegacyRejection(layer.digest, tag, claimed, "fetch", exc.message))
    return found, rejected
