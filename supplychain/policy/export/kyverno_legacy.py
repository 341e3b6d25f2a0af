"""Kyverno `ClusterPolicy` (kyverno.io/v1) with `verifyImages`, for clusters older than 1.17.

Written against the kyverno.io/v1 ClusterPolicy schema (as Kyverno 1.19.1 still ships it):
`type: SigstoreBundle` so cosign v3 bundles stored as referrers are found; keyless attestors
(`subject` or an anchored `subjectRegExp`, `issuer`, exact GitHub `additionalExtensions`, the
Fulcio `roots` and Rekor/CT log public keys of a private Sigstore) or public keys; one
`attestations` entry per required predicate type with JMESPath conditions over the predicate.
This kind reads its Sigstore trust root from Kyverno's TUF configuration (the deployment's
`--tufMirror`/`--tufRoot`), not from the policy; what JMESPath and this verifier cannot
express is refused, naming the rule.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from supplychain.policy import model as m
from supplychain.policy.export import vocab
from supplychain.policy.export.common import (
    ExportOptions,
    ExportResult,
    Gaps,
    anchored,
    chain_gaps,
    identity_match,
    policy_annotations,
    resource_name,
)

ENGINE = "Kyverno ClusterPolicy (kyverno.io/v1)"
_GITHUB = {"repository": "githubWorkflowRepository", "ref": "githubWorkflowRef",
           "trigger": "githubWorkflowTrigger"}


def _attestor(ident: m.Identity, opts: ExportOptions, gaps: Gaps) -> dict[str, Any]:
    trust = opts.trust
    if isinstance(ident, m.KeyIdentity):
        keys: dict[str, Any] = {"publicKeys": ident.public_key_pem}
        if ident.unsafe_no_transparency_log:
            keys["rekor"] = {"ignoreTlog": True}
        elif trust is not None:
            keys["rekor"] = {"url": trust.rekor.get("baseUrl", ""), "pubkey": trust.key_pem(trust.rekor)}
        return {"keys": keys}
    keyless: dict[str, Any] = dict(identity_match(ident))
    if ident.github:
        extensions = {}
        for name, pat in ident.github.items():
            if name in _GITHUB and not pat.regex:
                extensions[_GITHUB[name]] = pat.value
            else:
                gaps.add("identities", f"GitHub claim {name}={pat.describe()} has no exact certificate "
                         "extension match in this kind")
        if extensions:
            keyless["additionalExtensions"] = extensions
    if trust is not None:
        keyless["roots"] = trust.chain_pem(trust.fulcio)
        keyless["rekor"] = {"url": trust.rekor.get("baseUrl", ""), "pubkey": trust.key_pem(trust.rekor)}
        ctlog: dict[str, Any] = {"pubkey": trust.key_pem(trust.ctlog)}
        if trust.tsa is not None:
            ctlog["tsaCertChain"] = trust.chain_pem(trust.tsa)
        keyless["ctlog"] = ctlog
    return {"keyless": keyless}


def _jmes_match(path: tuple[str, ...], pattern: m.Pattern) -> dict[str, Any]:
    key = ".".join(path)
    if pattern.regex:
        literal = anchored(pattern).replace("'", "\\'")
        return {"key": f"{{{{ regex_match('{literal}', {key} || '') }}}}", "operator": "Equals",
                "value": True}
    return {"key": f"{{{{ {key} }}}}", "operator": "Equals", "value": pattern.value}


def _conditions(rule: m.AttestationRule, gaps: Gaps) -> list[dict[str, Any]]:
    conds: list[dict[str, Any]] = []
    if isinstance(rule, m.ProvenanceRule):
        if rule.builder_id:
            conds.append(_jmes_match(vocab.BUILDER_ID, rule.builder_id))
        if rule.build_type:
            conds.append(_jmes_match(vocab.BUILD_TYPE, rule.build_type))
        if rule.source_repository:
            gaps.add(rule.name, "the source repository condition has no JMESPath export")
        if rule.commit_present:
            deps = ".".join(vocab.RESOLVED_DEPENDENCIES)
            query = f"length({deps}[?digest.gitCommit || digest.sha1] || `[]`)"
            conds.append({"key": "{{ " + query + " }}", "operator": "GreaterThan", "value": 0})
    elif isinstance(rule, m.TestResultRule):
        conds.append({"key": "{{ result }}", "operator": "AnyIn", "value": list(vocab.TEST_PASSING)})
        conds.append({"key": "{{ length(failedTests || `[]`) }}", "operator": "Equals", "value": 0})
    elif isinstance(rule, m.HardenRule):
        conds.append({"key": "{{ passed }}", "operator": "Equals", "value": True})
        gaps.add(rule.name, "the findings-at-or-above-threshold check has no JMESPath export")
    elif isinstance(rule, m.VulnerabilityRule):
        ok = json.dumps(vocab.severities_at_most(rule.max_severity))
        allowed = json.dumps([a.id for a in rule.allow])
        findings = ".".join(vocab.VULNERABILITIES)
        query = (f"{findings}[?!contains(`{ok}`, to_lower(severity || 'unknown')) && "
                 f"!contains(`{allowed}`, id)] | length(@)")
        conds.append({"key": "{{ " + query + " }}", "operator": "Equals", "value": 0})
        if rule.allow:
            gaps.add(rule.name, "allowlist expiry dates have no JMESPath export (entries would never expire)")
        if rule.max_age:
            gaps.add(rule.name, "the maximum scan age has no JMESPath export")
    return conds


def to_kyverno_clusterpolicy(policy: m.Policy, opts: ExportOptions) -> ExportResult:
    gaps = Gaps(ENGINE)
    chain_gaps(policy, gaps)
    notes = ["this kind reads the Sigstore trust root from Kyverno's TUF configuration (--tufMirror, "
             "--tufRoot on the Kyverno deployment), not from the policy"]
    attestors = [{"count": 1, "entries": [_attestor(i, opts, gaps) for i in policy.identities.children]}]
    attestations = []
    for rule in policy.attestation_rules:
        entry: dict[str, Any] = {"type": rule.predicate_type, "attestors": copy.deepcopy(attestors)}
        conds = _conditions(rule, gaps)
        if conds:
            entry["conditions"] = [{"all": conds}]
        attestations.append(entry)
        gaps.add(rule.name, "for an index this kind checks the index digest, not each runnable platform")
    signature = policy.rule(m.SignatureRule)
    if isinstance(signature, m.SignatureRule) and signature.every_platform:
        gaps.add(signature.name, "for an index this kind checks the index digest, not each platform")
    for other in policy.requirements.children:
        if isinstance(other, m.BaseImageRule | m.PlatformsRule):
            gaps.add(other.name, "this kind has no condition on platforms or base images")
    verify: dict[str, Any] = {"type": "SigstoreBundle", "imageReferences": list(opts.images),
                              "mutateDigest": True, "verifyDigest": True, "required": True,
                              "attestors": attestors}
    if attestations:
        verify["attestations"] = attestations
    doc = {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": resource_name(policy), "annotations": policy_annotations(policy)},
        "spec": {
            "validationFailureAction": "Enforce",
            "background": False,
            "webhookTimeoutSeconds": 30,
            "rules": [{"name": "sccheck-verify-image",
                       "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                       "verifyImages": [verify]}],
        },
    }
    return ExportResult("kyverno-clusterpolicy", (doc,), gaps.finish(opts), tuple(notes))
