"""Key-based signing: a DSSE envelope signed with the user's ECDSA P-256 key, in a bundle
v0.3 with `publicKey` verification material; optionally logged in a Rekor v2.

Verify with `cosign verify --key KEY.pub --insecure-ignore-tlog IMAGE` (no log entry) or
`cosign verify --key KEY.pub --trusted-root tr.json IMAGE` (logged).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import requests
import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from supplychain.attest.statement import Statement
from supplychain.attest.vocabulary import INTOTO_PAYLOAD_TYPE
from supplychain.errors import SigningError
from supplychain.httpclient import new_session
from supplychain.signing.bundle import envelope, key_bundle, pae
from supplychain.signing.keyless import SignedBundle
from supplychain.signing.keys import key_hint, sign_bytes
from supplychain.strictdoc import load_json

MAX_LOG_RESPONSE = 1024 * 1024


def _rekor_request(env_pae: bytes, signature: bytes, public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    # Rekor v2 logs a DSSE signature as a hashedrekord over the PAE (sigstore-go checks the same).
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"hashedRekordRequestV002": {
        "digest": base64.b64encode(hashlib.sha256(env_pae).digest()).decode(),
        "signature": {
            "content": base64.b64encode(signature).decode(),
            "verifier": {"publicKey": {"rawBytes": base64.b64encode(der).decode()},
                         "keyDetails": "PKIX_ECDSA_P256_SHA_256"},
        },
    }}


def upload_to_rekor(rekor_url: str, request: dict[str, Any]) -> dict[str, Any]:
    url = rekor_url.rstrip("/") + "/api/v2/log/entries"
    try:
        resp = new_session().post(url, json=request, timeout=60, stream=True)
        body = resp.raw.read(MAX_LOG_RESPONSE + 1, decode_content=True)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise SigningError("Rekor is unreachable", expected=f"a Rekor v2 at {rekor_url}",
                           found=type(exc).__name__, fix="start it or drop --rekor-url; nothing was attached",
                           facts={"service": "Rekor", "url": url}) from None
    if resp.status_code not in (200, 201) or len(body) > MAX_LOG_RESPONSE:
        raise SigningError("Rekor refused the log entry", expected="HTTP 201 with a log entry",
                           found=f"HTTP {resp.status_code}: {body[:300].decode(errors='replace')}",
                           facts={"service": "Rekor", "url": url})

    try:
        entry = load_json(body, "the Rekor answer", error=SigningError)
        int(entry["logIndex"])
        entry["inclusionProof"]["checkpoint"]
    except (ValueError, KeyError, TypeError):
        raise SigningError("Rekor answered with something that is not a log entry",
                           found=body[:200].decode(errors="replace")) from None
    return dict(entry)


def sign_with_key(statement: Statement, key: ec.EllipticCurvePrivateKey,
                  rekor_url: str | None = None) -> SignedBundle:
    to_sign = pae(INTOTO_PAYLOAD_TYPE, statement.payload)
    signature = sign_bytes(key, to_sign)
    entries = []
    if rekor_url:
        entries.append(upload_to_rekor(rekor_url, _rekor_request(to_sign, signature, key.public_key())))
    hint = key_hint(key.public_key())
    data = key_bundle(envelope(statement.payload, signature), hint, entries, [])
    log_index = int(entries[0]["logIndex"]) if entries else None
    return SignedBundle(data, "key", log_index, 0, identity=f"key:{hint}")
