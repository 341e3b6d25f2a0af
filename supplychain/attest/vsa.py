"""SLSA verification summary v1 (SLSA_VSA): what `sccheck promote` signs about the digest it
promoted, and the reader for it.

    verifier {id: VERIFIER_ID, version {sccheck}}, timeVerified, resourceUri,
    policy {uri, digest}, inputAttestations[] {uri, digest}, verificationResult PASSED|FAILED,
    verifiedLevels [SLSA_BUILD_LEVEL_1 when provenance passed, SCCHECK_POLICY_<NAME>],
    slsaVersion "1.0"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from supplychain import __version__
from supplychain.attest.predicates import lookup, now_text, parse_time

VERIFIER_ID = "https://sccheck.dev/verifier/v1"


def policy_level(policy_name: str) -> str:
    return f"SCCHECK_POLICY_{policy_name.upper().replace('-', '_').replace('.', '_')}"


def resource_uri(reference: str) -> str:
    """The image by digest as a URI with a scheme: `oci://host/repo@sha256:...` (SLSA's
    `resourceUri` is a URI; the scheme is the one our provenance uses for images)."""
    return reference if "://" in reference else f"oci://{reference}"


def vsa_predicate(resource: str, *, policy_name: str, policy_digest: str, passed: bool,
                  provenance_passed: bool, input_bundles: Iterable[str],
                  now: dt.datetime) -> dict[str, Any]:
    """`resource` is the image by digest (`host/repo@sha256:...`); `input_bundles` the digests
    of the bundles the verdict rests on."""
    levels = [policy_level(policy_name)]
    if provenance_passed:
        levels.insert(0, "SLSA_BUILD_LEVEL_1")
    uri = resource_uri(resource)
    repo = uri.split("@", 1)[0]
    return {
        "verifier": {"id": VERIFIER_ID, "version": {"sccheck": __version__}},
        "timeVerified": now_text(now),
        "resourceUri": uri,
        "policy": {"uri": f"sccheck:policy/{policy_name}",
                   "digest": {"sha256": policy_digest.removeprefix("sha256:")}},
        "inputAttestations": [{"uri": f"{repo}@{d}", "digest": {"sha256": d.removeprefix("sha256:")}}
                              for d in sorted(set(input_bundles))],
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": levels,
        "slsaVersion": "1.0",
    }


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VsaFacts:
    verifier_id: str | None
    resource: str | None
    passed: bool
    levels: tuple[str, ...]
    policy_uri: str | None
    policy_digest: str | None          # sha256 hex of the policy file
    inputs: frozenset[str]             # "sha256:..." of the bundles the verdict rested on
    verified_at: dt.datetime | None


def vsa_facts(predicate: dict[str, Any]) -> VsaFacts:
    levels = predicate.get("verifiedLevels")
    listed = predicate.get("inputAttestations")
    inputs = frozenset(f"sha256:{lookup(i, 'digest', 'sha256')}" for i in listed or []
                       if isinstance(i, dict)) if isinstance(listed, list) else frozenset()
    return VsaFacts(_text(lookup(predicate, "verifier", "id")), _text(predicate.get("resourceUri")),
                    predicate.get("verificationResult") == "PASSED",
                    tuple(str(x) for x in levels) if isinstance(levels, list) else (),
                    _text(lookup(predicate, "policy", "uri")),
                    _text(lookup(predicate, "policy", "digest", "sha256")), inputs,
                    parse_time(predicate.get("timeVerified")))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
