"""The dev-stack's Sigstore client trust config (trusted root + signing config v0.2).

`trust_config.json` is what sigstore-python reads (`ClientTrustConfig`, CLI `--trust-config`);
`trusted_root.json` is its `trustedRoot` alone, for `cosign ... --trusted-root`.
sigstore-models validates strictly: no unknown fields, `organization` + `commonName` in every
subject, an `operator` on every service, and `validFor.start` in the past.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from cryptography.hazmat.primitives import serialization

from supplychain.devstack.keys import (
    FULCIO_CN,
    ORGANIZATION,
    TSA_LEAF_CN,
    KeyPaths,
    load_certs,
    log_id,
    spki_der,
)
from supplychain.devstack.services import Ports
from supplychain.devstack.state import StateDir, write_atomic

TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
OPERATOR = "sccheck dev-stack"
KEY_DETAILS = "PKIX_ECDSA_P256_SHA_256"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _start(created: dt.datetime) -> dict[str, str]:
    return {"start": created.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _log(base_url: str, pub_pem: bytes, valid: dict[str, str]) -> dict[str, Any]:
    return {"baseUrl": base_url, "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": _b64(spki_der(pub_pem)), "keyDetails": KEY_DETAILS,
                          "validFor": valid},
            "logId": {"keyId": _b64(log_id(pub_pem))}}


def _chain(pem: bytes) -> dict[str, Any]:
    return {"certificates": [{"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                             for c in load_certs(pem)]}


def trusted_root(keys: KeyPaths, ports: Ports, created: dt.datetime) -> dict[str, Any]:
    valid = _start(created)
    return {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [_log(ports.url("rekor"), keys.rekor_pub.read_bytes(), valid)],
        "certificateAuthorities": [{
            "subject": {"organization": ORGANIZATION, "commonName": FULCIO_CN},
            "uri": ports.url("fulcio"), "certChain": _chain(keys.fulcio_cert.read_bytes()),
            "validFor": valid}],
        "ctlogs": [_log(ports.url("ct"), keys.ct_pub.read_bytes(), valid)],
        "timestampAuthorities": [{
            "subject": {"organization": ORGANIZATION, "commonName": TSA_LEAF_CN},
            "uri": ports.url("tsa"), "certChain": _chain(keys.tsa_chain.read_bytes()),
            "validFor": valid}],
    }


def signing_config(ports: Ports, created: dt.datetime) -> dict[str, Any]:
    def service(url: str, major: int) -> dict[str, Any]:
        return {"url": url, "majorApiVersion": major, "validFor": _start(created), "operator": OPERATOR}

    return {
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [service(ports.url("fulcio"), 1)],
        "oidcUrls": [service(ports.url("oidc"), 1)],
        "rekorTlogUrls": [service(ports.url("rekor"), 2)],
        "tsaUrls": [service(f"{ports.url('tsa')}/api/v1/timestamp", 1)],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }


def write_trust_config(state: StateDir, keys: KeyPaths, ports: Ports, created: dt.datetime) -> None:
    root = trusted_root(keys, ports, created)
    config = {"mediaType": TRUST_CONFIG_MEDIA_TYPE, "trustedRoot": root,
              "signingConfig": signing_config(ports, created)}
    write_atomic(state.trusted_root, json.dumps(root, indent=2) + "\n")
    write_atomic(state.trust_config, json.dumps(config, indent=2) + "\n")


def write_fulcio_config(state: StateDir, ports: Ports) -> None:
    email_issuer = ports.url("oidc")
    github_issuer = f"{email_issuer}/github"
    config = {"OIDCIssuers": {
        email_issuer: {"IssuerURL": email_issuer, "ClientID": "sigstore", "Type": "email"},
        github_issuer: {"IssuerURL": github_issuer, "ClientID": "sigstore", "Type": "github-workflow"},
    }}
    write_atomic(state.fulcio_config, json.dumps(config, indent=2) + "\n")
