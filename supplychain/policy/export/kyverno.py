"""Kyverno `ImageValidatingPolicy` (policies.kyverno.io/v1, Kyverno 1.17+), CEL based.

- One cosign attestor per policy identity (keyless: issuer + subject or an anchored
  `subjectRegExp`; or a public key), with the private Sigstore's trusted root inline
  (`trustedRoot`), its TSA chain (`ctlog.tsaCertChain`, so the bundle's RFC 3161 timestamp is
  the signing time Rekor v2 does not give) and, when given, the TUF repository Kyverno
  initialises before it reads anything.
- One `intoto` attestation per required predicate type, the signature included
  (cosign's sign predicate, `COSIGN_SIGN` of the evidence vocabulary): cosign v3 bundles
  stored as OCI referrers (or in the `sha256-<hex>` tag fallback) are found by Kyverno's
  bundle detection.
- One validation per sccheck rule, each holding for every container image of the Pod and, for
  an index, for each runnable child on its own (`image.GetMetadata(...).imageIndex`), as
  `verify` judges it: evidence must be attached to that digest and name it.
"""

from __future__ import annotations

import base64
from typing import Any

from supplychain.image.descriptor import MediaType
from supplychain.policy import model as m
from supplychain.policy.export.cel import conditions, lit
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

ENGINE = "Kyverno (ImageValidatingPolicy)"
IMAGES = "images.containers + images.initContainers + images.ephemeralContainers"
# The runnable children of an index, by the one rule (supplychain.image.view): an image manifest
# whose platform is not exactly unknown/unknown (a child without a platform is runnable).
_RUNNABLE = (f"has(c.mediaType) && c.mediaType in {lit(sorted(MediaType.MANIFESTS))} && "
             "!(has(c.platform) && has(c.platform.os) && has(c.platform.architecture) && "
             "c.platform.os == 'unknown' && c.platform.architecture == 'unknown')")


def _cosign(ident: m.Identity, opts: ExportOptions, gaps: Gaps) -> dict[str, Any]:
    cosign: dict[str, Any] = {}
    if isinstance(ident, m.KeyIdentity):
        cosign["key"] = {"data": ident.public_key_pem, "hashAlgorithm": "sha256"}
    else:
        cosign["keyless"] = {"identities": [identity_match(ident)]}
        if ident.github:
            gaps.add("identities", "Kyverno's ImageValidatingPolicy does not match certificate extensions: "
                     "the GitHub claims " + ", ".join(k for k, _ in ident.github.items())
                     + f" of {ident.describe()} would not be checked")
    ctlog: dict[str, Any] = {}
    if isinstance(ident, m.KeyIdentity) and ident.unsafe_no_transparency_log:
        ctlog["insecureIgnoreTlog"] = True
    trust = opts.trust
    if trust is not None:
        cosign["trustedRoot"] = {"value": trust.json_text}
        ctlog["url"] = trust.rekor.get("baseUrl", "")
        ctlog["rekorPubKey"] = trust.key_pem(trust.rekor)
        ctlog["ctLogPubKey"] = trust.key_pem(trust.ctlog)
        if trust.tsa is not None:
            ctlog["tsaCertChain"] = trust.chain_pem(trust.tsa)
        if isinstance(ident, m.KeylessIdentity):
            cosign["keyless"]["roots"] = trust.chain_pem(trust.fulcio)
    if ctlog:
        cosign["ctlog"] = ctlog
    if opts.tuf is not None:
        cosign["tuf"] = {"mirror": opts.tuf.mirror,
                         "root": {"data": base64.b64encode(opts.tuf.root_json).decode()}}
    return cosign


def _digests(scope: str) -> str:
    """CEL list of the references a rule is judged on, for the image `img`:
    'all' = the image and, for an index, each runnable child; 'platforms' = each runnable child
    (or the image itself when it is not an index); 'image' = the image as named."""
    if scope == "image":
        return "[img]"
    children = (f"md.imageIndex.manifests.filter(c, {_RUNNABLE})"
                ".map(c, md.registry + '/' + md.repository + '@' + c.digest)")
    if scope == "children":
        return f"cel.bind(md, image.GetMetadata(img), has(md.imageIndex) ? {children} : [])"
    own = f"{children} + [img]" if scope == "all" else children
    return f"cel.bind(md, image.GetMetadata(img), has(md.imageIndex) ? {own} : [img])"


def _fetch_children_first(attestation: str, anyone: str) -> dict[str, str]:
    """Kyverno 1.19's per-request image cache keeps a read lock after a cache hit, so fetching a
    new image after any hit deadlocks the engine. The Pod's own images are prefetched; this
    first validation fetches (and verifies) every platform child of every image before any
    image is asked for twice. It judges nothing (the rules below do): it always holds."""
    refs = _digests("children")
    verify = f"verifyAttestationSignatures(ref, attestations.{attestation}, {anyone})"
    return {"expression": f"({IMAGES}).map(img, {refs}.map(ref, {verify})).size() >= 0",
            "message": "sccheck: every platform image of the Pod's images is fetched first"}


def _validation(scope: str, check: str, message: str, nonempty: bool) -> dict[str, str]:
    refs = _digests(scope)
    # An index without a runnable child offers a runtime nothing to run: no per-image rule holds.
    body = f"cel.bind(refs, {refs}, {'size(refs) > 0 && ' if nonempty else ''}refs.all(ref, {check}))"
    return {"expression": f"({IMAGES}).all(img, {body})", "message": message}


def _platforms(rule: m.PlatformsRule) -> dict[str, str]:
    plat = ("c.platform.os + '/' + c.platform.architecture + "
            "(has(c.platform.variant) && c.platform.variant != '' ? '/' + c.platform.variant : '')")
    single = ("md.config.os + '/' + md.config.architecture + "
              "(has(md.config.variant) && md.config.variant != '' ? '/' + md.config.variant : '')")
    have = (f"(has(md.imageIndex) ? md.imageIndex.manifests.filter(c, has(c.platform)).map(c, {plat}) "
            f": [{single}])")
    expr = (f"({IMAGES}).all(img, cel.bind(md, image.GetMetadata(img), cel.bind(have, {have}, "
            f"{lit(list(rule.required))}.all(p, p in have))))")
    return {"expression": expr,
            "message": f"sccheck rule {rule.name!r}: platforms {', '.join(rule.required)}"}


def to_kyverno(policy: m.Policy, opts: ExportOptions) -> ExportResult:
    gaps = Gaps(ENGINE)
    chain_gaps(policy, gaps)
    notes: list[str] = []
    attestors = [{"name": f"identity{i}", "cosign": _cosign(ident, opts, gaps)}
                 for i, ident in enumerate(policy.identities.children)]
    anyone = "[" + ", ".join(f"attestors.{a['name']}" for a in attestors) + "]"
    attestations: list[dict[str, Any]] = []
    validations: list[dict[str, str]] = []

    def attested(name: str, predicate_type: str) -> str:
        if not any(a["name"] == name for a in attestations):
            attestations.append({"name": name, "intoto": {"type": predicate_type}})
        return f"verifyAttestationSignatures(ref, attestations.{name}, {anyone}) > 0"

    for rule in policy.requirements.children:
        if isinstance(rule, m.SignatureRule):
            check = attested("signature", m.PREDICATE_SIGNATURE)
            validations.append(_validation("all" if rule.every_platform else "image", check,
                                           f"sccheck rule {rule.name!r}: a verified signature by an allowed "
                                           "identity on the image and each of its platforms", False))
        elif isinstance(rule, m.SbomRule):
            check = attested("sbom", rule.predicate_type)
            validations.append(_validation("platforms" if rule.every_platform else "image", check,
                                           f"sccheck rule {rule.name!r}: a verified SBOM for each platform",
                                           rule.every_platform))
        elif isinstance(rule, m.ProvenanceRule | m.VulnerabilityRule | m.TestResultRule | m.HardenRule):
            check = attested(rule.name, rule.predicate_type)
            conds = conditions(rule, gaps)
            if conds:
                check += (f" && cel.bind(p, extractPayload(ref, attestations.{rule.name}), "
                          + " && ".join(conds) + ")")
            validations.append(_validation("platforms", check,
                                           f"sccheck rule {rule.name!r}: a verified {rule.predicate_type} "
                                           "attestation meeting the policy's conditions for each platform",
                                           True))
            if isinstance(rule, m.VulnerabilityRule):
                notes.append("with several verified vulnerability scans on one image, Kyverno judges the one "
                             "it read last, sccheck the newest")
        elif isinstance(rule, m.PlatformsRule):
            validations.append(_platforms(rule))
        elif isinstance(rule, m.BaseImageRule):
            gaps.add(rule.name, "base-image annotations and labels are not exported to CEL yet")
    if attestations and validations:
        validations.insert(0, _fetch_children_first(attestations[0]["name"], anyone))
    if opts.tuf is None and any(isinstance(i, m.KeylessIdentity) for i in policy.identities.children):
        notes.append("Kyverno initialises a TUF client before it reads the trusted root: without "
                     "--tuf-mirror the cluster must reach the public Sigstore TUF repository, or every "
                     "keyless check fails")
    spec: dict[str, Any] = {
        "validationActions": ["Deny"],
        "failurePolicy": "Fail",
        "webhookConfiguration": {"timeoutSeconds": 30},
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                "operations": ["CREATE", "UPDATE"],
                                                "resources": ["pods"]}]},
        "matchImageReferences": [{"glob": g} for g in opts.images],
        "validationConfigurations": {"mutateDigest": True, "verifyDigest": True, "required": True},
        "attestors": attestors,
        "attestations": attestations,
        "validations": validations,
    }
    doc = {"apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy",
           "metadata": {"name": resource_name(policy), "annotations": policy_annotations(policy)},
           "spec": spec}
    return ExportResult("kyverno", (doc,), gaps.finish(opts), tuple(dict.fromkeys(notes)))


__all__ = ["ENGINE", "TrustMaterial", "to_kyverno"]
