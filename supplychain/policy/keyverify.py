"""Verification of key-signed DSSE bundles (`verificationMaterial.publicKey`).

sigstore-python verifies certificate bundles only, so for a key the steps are ours:
1. the DSSE signature over PAE(payloadType, payload) verifies with the policy's public key;
2. the bundle's Rekor entry (required unless the identity says `UnsafeNoTransparencyLog`) has a
   valid inclusion proof and signed checkpoint (sigstore's log-entry verification against the
   trusted root), and its body is a hashedrekord v0.0.2 for exactly this PAE digest, this
   signature and this key - a log entry for another artifact is refused.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from supplychain.errors import Error
from supplychain.policy import model as m
from supplychain.strictdoc import load_json


class KeyBundleError(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _b64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        raise KeyBundleError("bundle", f"{what} is not base64") from None


def verify_signature(key_pem: str, data: bytes, sig: bytes) -> bool:
    key = serialization.load_pem_public_key(key_pem.encode())
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _check_log_entry(entry: dict[str, Any], to_sign: bytes, sig: bytes, key_pem: str,
                     trusted_root: Any) -> None:
    from sigstore.errors import VerificationError
    from sigstore.models import TransparencyLogEntry
    from sigstore_models.rekor.v1 import TransparencyLogEntry as RawEntry

    try:
        body = load_json(_b64(entry.get("canonicalizedBody"), "the log entry body"), "the log entry body")
        spec = body["spec"]["hashedRekordV002"]
        logged_digest = _b64(spec["data"]["digest"], "the logged digest")
        logged_sig = _b64(spec["signature"]["content"], "the logged signature")
        logged_key = _b64(spec["signature"]["verifier"]["publicKey"]["rawBytes"], "the logged key")
    except (KeyError, TypeError, ValueError, Error):
        raise KeyBundleError("log", "the log entry is not a hashedrekord v0.0.2 entry") from None
    der = serialization.load_pem_public_key(key_pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if logged_digest != hashlib.sha256(to_sign).digest() or logged_sig != sig or logged_key != der:
        raise KeyBundleError("log", "the transparency log entry is for another artifact or signature "
                                    "(its digest, signature or key differ from the bundle's)")
    if trusted_root is None:
        raise KeyBundleError("log", "no trusted root to check the log entry against (pass --trust-config)")
    try:
        from sigstore._internal.trust import KeyringPurpose

        wrapped = TransparencyLogEntry(RawEntry.from_dict(entry))
        wrapped._verify(trusted_root.rekor_keyring(KeyringPurpose.VERIFY))
    except (VerificationError, ValueError, KeyError, TypeError) as exc:
        raise KeyBundleError("log", f"invalid log entry: {exc}") from None


def verify_key_bundle(doc: dict[str, Any], keys: list[m.KeyIdentity],
                      trusted_root: Any) -> tuple[str, bytes, m.KeyIdentity]:
    """(payloadType, payload, matching key) of a key-signed bundle, or KeyBundleError."""
    env = doc.get("dsseEnvelope")
    if not isinstance(env, dict):
        raise KeyBundleError("bundle", "the bundle has no DSSE envelope")
    sigs = env.get("signatures")
    if not isinstance(sigs, list) or len(sigs) != 1 or not isinstance(sigs[0], dict):
        raise KeyBundleError("bundle", "the DSSE envelope must carry exactly one signature")
    payload_type = env.get("payloadType")
    if not isinstance(payload_type, str):
        raise KeyBundleError("bundle", "the DSSE envelope has no payloadType")
    payload = _b64(env.get("payload"), "the DSSE payload")
    sig = _b64(sigs[0].get("sig"), "the DSSE signature")
    to_sign = pae(payload_type, payload)
    if not keys:
        raise KeyBundleError("identity", "signed with a key, but the policy allows no public key")
    match = next((k for k in keys if verify_signature(k.public_key_pem, to_sign, sig)), None)
    if match is None:
        raise KeyBundleError("identity", "the signature does not verify with any public key of the policy")
    entries = (doc.get("verificationMaterial") or {}).get("tlogEntries") or []
    if entries:
        _check_log_entry(entries[0], to_sign, sig, match.public_key_pem, trusted_root)
    elif not match.unsafe_no_transparency_log:
        raise KeyBundleError("log", "the key-signed bundle has no transparency log entry "
                                    "(the policy would need UnsafeNoTransparencyLog: true)")
    return payload_type, payload, match
