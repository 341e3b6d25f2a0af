"""DSSE envelopes and Sigstore bundle v0.3 documents (the parts sccheck builds itself).

Keyless bundles come whole from sigstore-python; key-based bundles are assembled here:
a DSSE envelope signed over the PAE, `publicKey.hint` verification material and, when a
Rekor was asked for, its log entry.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from supplychain.attest.vocabulary import INTOTO_PAYLOAD_TYPE
from supplychain.errors import SigningError
from supplychain.image.descriptor import MediaType
from supplychain.strictdoc import load_json

BUNDLE_MEDIA_TYPE = MediaType.SIGSTORE_BUNDLE
MAX_BUNDLE_BYTES = 16 * 1024 * 1024


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: the bytes that are actually signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(payload: bytes, signature: bytes, keyid: str = "") -> dict[str, Any]:
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": keyid}],
    }


def key_bundle(env: dict[str, Any], hint: str, tlog_entries: list[dict[str, Any]],
               timestamps: list[str]) -> bytes:
    material: dict[str, Any] = {"publicKey": {"hint": hint}, "tlogEntries": tlog_entries}
    if timestamps:
        material["timestampVerificationData"] = {
            "rfc3161Timestamps": [{"signedTimestamp": t} for t in timestamps]}
    doc = {"mediaType": BUNDLE_MEDIA_TYPE, "verificationMaterial": material, "dsseEnvelope": env}
    return json.dumps(doc, separators=(",", ":")).encode()


@dataclass(frozen=True)
class BundleFacts:
    """What a bundle says about itself (read without verifying anything)."""

    media_type: str
    payload_type: str
    payload: bytes
    certificate: bool
    log_index: int | None
    timestamps: int
    integrated_time: int


def bundle_facts(data: bytes) -> BundleFacts:
    if len(data) > MAX_BUNDLE_BYTES:
        raise SigningError("the bundle is too large", expected=f"at most {MAX_BUNDLE_BYTES} bytes",
                           found=f"{len(data)} bytes")
    try:
        doc = load_json(data, "the bundle", error=SigningError)
        env = doc["dsseEnvelope"]
        material = doc["verificationMaterial"]
        payload = base64.b64decode(env["payload"])
        payload_type = str(env["payloadType"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SigningError(f"not a DSSE Sigstore bundle ({type(exc).__name__}: {exc})",
                           expected="a bundle v0.3 with dsseEnvelope and verificationMaterial") from None
    entries = material.get("tlogEntries") or []
    log_index = int(entries[0]["logIndex"]) if entries and "logIndex" in entries[0] else None
    integrated = int(entries[0].get("integratedTime") or 0) if entries else 0
    stamps = (material.get("timestampVerificationData") or {}).get("rfc3161Timestamps") or []
    return BundleFacts(str(doc.get("mediaType")), payload_type, payload,
                       "certificate" in material or "x509CertificateChain" in material,
                       log_index, len(stamps), integrated)
