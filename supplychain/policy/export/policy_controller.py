"""sigstore policy-controller: a `TrustRoot` for the private Sigstore and a `ClusterImagePolicy`
(policy.sigstore.dev/v1beta1) with `signatureFormat: bundle`.

One authority per keyless identity (policy-controller's bundle verifier is keyless only), each
pointing its Fulcio, Rekor and TSA at the TrustRoot; one attestation per required predicate
type, the signature included, with a Rego policy (rego.py) for the rule's conditions. The
verdict rule policy-controller cannot follow is refused at export, naming the rules: it judges
the digest the Pod names, so for an index it does not ask each runnable child for its own
evidence; and an attestation type passes when ANY verified attestation of it passes.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from supplychain.policy import model as m
from supplychain.policy.export.common import (
    ExportOptions,
    ExportResult,
    Gaps,
    TrustMaterial,
    chain_gaps,
    identity_match,
    policy_annotations,
    resource_name,
)
from supplychain.policy.export.rego import rego_for

ENGINE = "policy-controller"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def trust_root(name: str, trust: TrustMaterial) -> dict[str, Any]:
    """A TrustRoot (policy.sigstore.dev/v1alpha1) with `sigstoreKeys` from the trusted root."""
    def authority(a: dict[str, Any]) -> dict[str, Any]:
        subject = a.get("subject") or {}
        return {"subject": {"organization": subject.get("organization", ""),
                            "commonName": subject.get("commonName", "")},
                "uri": a.get("uri", ""), "certChain": _b64(trust.chain_pem(a))}

    def log(entry: dict[str, Any]) -> dict[str, Any]:
        algo = str(entry.get("hashAlgorithm", "SHA2_256")).lower().replace("sha2_", "sha")
        return {"baseURL": entry.get("baseUrl", ""), "hashAlgorithm": algo,
                "publicKey": _b64(trust.key_pem(entry))}

    keys: dict[str, Any] = {
        "certificateAuthorities": [authority(a) for a in trust.items("certificateAuthorities")],
        "tLogs": [log(t) for t in trust.items("tlogs")],
        "ctLogs": [log(t) for t in trust.items("ctlogs")],
        "timestampAuthorities": [authority(a) for a in trust.items("timestampAuthorities")],
    }
    return {"apiVersion": "policy.sigstore.dev/v1alpha1", "kind": "TrustRoot",
            "metadata": {"name": name}, "spec": {"sigstoreKeys": keys}}


def to_policy_controller(policy: m.Policy, opts: ExportOptions) -> ExportResult:
    gaps = Gaps(ENGINE)
    chain_gaps(policy, gaps)
    notes: list[str] = []
    name = resource_name(policy)
    attestations: list[dict[str, Any]] = []
    for rule in policy.requirements.children:
        if isinstance(rule, m.SignatureRule):
            attestations.append({"name": "signature", "predicateType": m.PREDICATE_SIGNATURE})
            if rule.every_platform:
                gaps.add(rule.name, "for an index it checks the signature of the index only, not of each "
                         "platform")
        elif isinstance(rule, m.SbomRule | m.ProvenanceRule | m.VulnerabilityRule | m.TestResultRule
                        | m.HardenRule):
            att: dict[str, Any] = {"name": rule.name, "predicateType": rule.predicate_type}
            rego = rego_for(rule, gaps)
            if rego:
                att["policy"] = {"type": "rego", "data": rego}
            attestations.append(att)
            if not isinstance(rule, m.SbomRule) or rule.every_platform:
                gaps.add(rule.name, "for an index it reads the attestations of the index, not those of each "
                         "runnable platform on its own")
            if rego and not isinstance(rule, m.VulnerabilityRule):
                gaps.add(rule.name, "an attestation type passes when ANY verified attestation of it passes; "
                         "sccheck wants every one")
            if isinstance(rule, m.VulnerabilityRule):
                gaps.add(rule.name, "with several scans it passes when ANY passes; sccheck judges the newest")
        elif isinstance(rule, m.PlatformsRule | m.BaseImageRule):
            gaps.add(rule.name, "policy-controller has no condition on an index's platforms or base images")
    documents: list[dict[str, Any]] = []
    if opts.trust is not None:
        documents.append(trust_root(name, opts.trust))
        if opts.trust.rekor_major == 2:
            gaps.add("identities", "policy-controller v0.13 (sigstore-go 0.7) cannot read bundles whose log "
                     "entry is Rekor v2: it would refuse every image this Sigstore signs")
        elif opts.trust.rekor_major is None:
            notes.append("the trusted root does not say whether its Rekor is v2 (pass the "
                         "ClientTrustConfig): policy-controller v0.13 cannot read Rekor v2 bundles")
        if opts.trust.tsa is not None:
            gaps.add("identities", "with a timestamp authority, policy-controller v0.13 verifies the "
                     "bundle's RFC 3161 timestamp and skips the transparency log entry")
    authorities = []
    for n, ident in enumerate(policy.identities.children):
        if isinstance(ident, m.KeyIdentity):
            gaps.add("identities", f"{ident.describe()}: policy-controller verifies Sigstore bundles only "
                     "for keyless authorities")
            continue
        if ident.github:
            gaps.add("identities", f"{ident.describe()}: policy-controller does not match the GitHub "
                     "certificate extensions")
        keyless: dict[str, Any] = {"identities": [identity_match(ident)]}
        auth: dict[str, Any] = {"name": f"identity-{n}", "signatureFormat": "bundle", "keyless": keyless}
        if opts.trust is not None:
            keyless["trustRootRef"] = name
            auth["ctlog"] = {"trustRootRef": name}
            if opts.trust.tsa is not None:
                auth["rfc3161timestamp"] = {"trustRootRef": name}
        else:
            notes.append("no --trusted-root: policy-controller uses the public Sigstore trust root")
        auth["attestations"] = copy.deepcopy(attestations)
        authorities.append(auth)
    if not authorities:
        gaps.add("identities", "no identity of the policy can be expressed")
    doc = {
        "apiVersion": "policy.sigstore.dev/v1beta1",
        "kind": "ClusterImagePolicy",
        "metadata": {"name": name, "annotations": policy_annotations(policy)},
        "spec": {"mode": "enforce", "images": [{"glob": g if g != "*" else "**"} for g in opts.images],
                 "authorities": authorities},
    }
    documents.append(doc)
    return ExportResult("policy-controller", tuple(documents), gaps.finish(opts), tuple(dict.fromkeys(notes)))
