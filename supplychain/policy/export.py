"""Export a policy to cluster admission control, so the cluster enforces what the gate enforced.

- Kyverno `ClusterPolicy` (kyverno.io/v1) with a `verifyImages` rule: keyless attestors (subject
  or subjectRegExp, issuer, GitHub extensions, Rekor and CT log URLs) or public keys, and one
  `attestations` entry per required predicate type with JMESPath conditions.
- sigstore policy-controller `ClusterImagePolicy` (policy.sigstore.dev/v1beta1): keyless
  identities or keys, and attestations with a Rego policy where the condition is expressible.

What a target cannot express is listed in `ExportResult.notes` (and as YAML comments), never
silently dropped.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from supplychain.errors import UsageError
from supplychain.policy import model as m

FORMATS = ("kyverno", "policy-controller")


@dataclass(frozen=True)
class ExportOptions:
    images: tuple[str, ...] = ("*",)
    rekor_url: str | None = None
    ctlog_url: str | None = None
    fulcio_url: str | None = None


@dataclass(frozen=True)
class ExportResult:
    format: str
    document: dict[str, Any]
    notes: tuple[str, ...] = field(default=())

    def to_yaml(self) -> str:
        head = "".join(f"# NOTE: {n}\n" for n in self.notes)
        return head + yaml.safe_dump(self.document, sort_keys=False, width=1000)


def _resource_name(policy: m.Policy) -> str:
    return f"sccheck-{policy.name}".replace("_", "-").replace(".", "-")[:63]


def _anchored(pattern: m.Pattern) -> str:
    """A regex for engines that search instead of full-matching: anchor it explicitly."""
    return f"^(?:{pattern.value})$" if pattern.regex else "^" + _re_escape(pattern.value) + "$"


def _re_escape(text: str) -> str:
    import re

    return re.escape(text)


# --- Kyverno --------------------------------------------------------------------------------

_KYVERNO_GITHUB = {"repository": "githubWorkflowRepository", "ref": "githubWorkflowRef",
                   "trigger": "githubWorkflowTrigger"}


def _kyverno_attestor(ident: m.Identity, opts: ExportOptions, notes: list[str]) -> dict[str, Any]:
    if isinstance(ident, m.KeyIdentity):
        keys: dict[str, Any] = {"publicKeys": ident.public_key_pem}
        if ident.unsafe_no_transparency_log:
            keys["rekor"] = {"ignoreTlog": True}
        elif opts.rekor_url:
            keys["rekor"] = {"url": opts.rekor_url}
        return {"keys": keys}
    keyless: dict[str, Any] = {"issuer": ident.issuer}
    if ident.subject.regex:
        keyless["subjectRegExp"] = _anchored(ident.subject)
    else:
        keyless["subject"] = ident.subject.value
    if ident.github:
        extensions = {}
        for name, pat in ident.github.items():
            if name in _KYVERNO_GITHUB and not pat.regex:
                extensions[_KYVERNO_GITHUB[name]] = pat.value
            else:
                notes.append(f"kyverno: GitHub claim {name}={pat.describe()} is not expressible as an exact "
                             "certificate extension; the subject check still applies")
        if extensions:
            keyless["additionalExtensions"] = extensions
    if opts.rekor_url:
        keyless["rekor"] = {"url": opts.rekor_url}
    if opts.ctlog_url:
        keyless["ctlog"] = {"url": opts.ctlog_url}
    return {"keyless": keyless}


def _jmes_condition(path: str, pattern: m.Pattern) -> dict[str, Any]:
    if pattern.regex:
        literal = _anchored(pattern).replace("'", "\\'")
        return {"key": f"{{{{ regex_match('{literal}', {path}) }}}}", "operator": "Equals", "value": True}
    return {"key": f"{{{{ {path} }}}}", "operator": "Equals", "value": pattern.value}


def _kyverno_conditions(rule: m.AttestationRule, notes: list[str]) -> list[dict[str, Any]]:
    conds: list[dict[str, Any]] = []
    if isinstance(rule, m.ProvenanceRule):
        if rule.builder_id:
            conds.append(_jmes_condition("runDetails.builder.id", rule.builder_id))
        if rule.build_type:
            conds.append(_jmes_condition("buildDefinition.buildType", rule.build_type))
        if rule.source_repository:
            notes.append("kyverno: the source repository condition is checked by sccheck only")
        if rule.commit_present:
            query = "length(buildDefinition.resolvedDependencies[?digest.gitCommit] || `[]`)"
            conds.append({"key": "{{ " + query + " }}", "operator": "GreaterThan", "value": 0})
    elif isinstance(rule, m.TestResultRule):
        conds.append({"key": "{{ result }}", "operator": "AnyIn", "value": ["PASSED", "WARNED"]})
        conds.append({"key": "{{ length(failedTests || `[]`) }}", "operator": "Equals", "value": 0})
    elif isinstance(rule, m.HardenRule):
        conds.append({"key": "{{ passed }}", "operator": "Equals", "value": True})
    elif isinstance(rule, m.VulnerabilityRule):
        above = [s for s in m.SEVERITIES if m.severity_rank(s) > m.severity_rank(rule.max_severity)]
        allowed = [a.id for a in rule.allow]
        query = (f"scanner.result.findings[?contains(`{json.dumps(above)}`, severity) && "
                 f"!contains(`{json.dumps(allowed)}`, id)] | length(@)")
        conds.append({"key": "{{ " + query + " }}", "operator": "Equals", "value": 0})
        notes.append("kyverno: allowlist expiry dates and the maximum scan age are checked by sccheck only")
    return conds


def to_kyverno(policy: m.Policy, opts: ExportOptions) -> ExportResult:
    notes: list[str] = []
    entries = [_kyverno_attestor(i, opts, notes) for i in policy.identities.children]
    attestors = [{"count": 1, "entries": entries}]
    attestations = []
    for rule in policy.attestation_rules:
        entry: dict[str, Any] = {"type": rule.predicate_type, "attestors": copy.deepcopy(attestors)}
        conds = _kyverno_conditions(rule, notes)
        if conds:
            entry["conditions"] = [{"all": conds}]
        attestations.append(entry)
    verify: dict[str, Any] = {"imageReferences": list(opts.images), "mutateDigest": True,
                              "verifyDigest": True, "required": True, "attestors": attestors}
    if attestations:
        verify["attestations"] = attestations
    if policy.rule(m.BaseImageRule) or policy.rule(m.PlatformsRule):
        notes.append("kyverno: base image and platform rules are checked by sccheck only")
    doc = {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": _resource_name(policy),
                     "annotations": {"sccheck.dev/policy": policy.name,
                                     "sccheck.dev/policy-digest": policy.source_digest}},
        "spec": {
            "validationFailureAction": "Enforce",
            "background": False,
            "webhookTimeoutSeconds": 30,
            "rules": [{"name": "sccheck-verify-image",
                       "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                       "verifyImages": [verify]}],
        },
    }
    return ExportResult("kyverno", doc, tuple(dict.fromkeys(notes)))


# --- sigstore policy-controller -------------------------------------------------------------


def _rego_match(path: str, pattern: m.Pattern) -> str:
    if pattern.regex:
        return f"regex.match({json.dumps(_anchored(pattern))}, {path})"
    return f"{path} == {json.dumps(pattern.value)}"


def _rego(rule: m.AttestationRule, notes: list[str]) -> str | None:
    body: list[str] = []
    if isinstance(rule, m.ProvenanceRule):
        if rule.builder_id:
            body.append(_rego_match("input.predicate.runDetails.builder.id", rule.builder_id))
        if rule.build_type:
            body.append(_rego_match("input.predicate.buildDefinition.buildType", rule.build_type))
        if rule.commit_present:
            body.append("count([d | d := input.predicate.buildDefinition.resolvedDependencies[_]; "
                        "d.digest.gitCommit]) > 0")
        if rule.source_repository:
            notes.append("policy-controller: the source repository condition is checked by sccheck only")
    elif isinstance(rule, m.TestResultRule):
        body.append('input.predicate.result in {"PASSED", "WARNED"}')
        body.append("count(object.get(input.predicate, \"failedTests\", [])) == 0")
    elif isinstance(rule, m.HardenRule):
        body.append("input.predicate.passed == true")
    elif isinstance(rule, m.VulnerabilityRule):
        above = [s for s in m.SEVERITIES if m.severity_rank(s) > m.severity_rank(rule.max_severity)]
        allowed = [a.id for a in rule.allow]
        body.append(f"count([f | f := input.predicate.scanner.result.findings[_]; "
                    f"{json.dumps(above)}[_] == lower(f.severity); "
                    f"not f.id in {json.dumps(allowed)}]) == 0")
        notes.append("policy-controller: allowlist expiry dates and the maximum scan age are checked by "
                     "sccheck only")
    if not body:
        return None
    lines = ["package sigstore", "import rego.v1", "default isCompliant := false", "isCompliant if {"]
    lines += [f"  {b}" for b in body] + ["}"]
    return "\n".join(lines) + "\n"


def to_policy_controller(policy: m.Policy, opts: ExportOptions) -> ExportResult:
    notes: list[str] = []
    attestations = []
    for rule in policy.attestation_rules:
        att: dict[str, Any] = {"name": rule.name, "predicateType": rule.predicate_type}
        rego = _rego(rule, notes)
        if rego:
            att["policy"] = {"type": "rego", "data": rego}
        attestations.append(att)
    authorities = []
    for n, ident in enumerate(policy.identities.children):
        auth: dict[str, Any] = {"name": f"identity-{n}"}
        if isinstance(ident, m.KeyIdentity):
            auth["key"] = {"data": ident.public_key_pem, "hashAlgorithm": "sha256"}
            if ident.unsafe_no_transparency_log:
                notes.append("policy-controller: UnsafeNoTransparencyLog has no equivalent; the cluster will "
                             "require a Rekor entry")
        else:
            identity: dict[str, str] = {"issuer": ident.issuer}
            if ident.subject.regex:
                identity["subjectRegExp"] = _anchored(ident.subject)
            else:
                identity["subject"] = ident.subject.value
            keyless: dict[str, Any] = {"identities": [identity]}
            if opts.fulcio_url:
                keyless["url"] = opts.fulcio_url
            auth["keyless"] = keyless
            if ident.github:
                notes.append("policy-controller: GitHub workflow claims are checked by sccheck only; "
                             "the subject pins the workflow")
        if opts.rekor_url:
            auth["ctlog"] = {"url": opts.rekor_url}
        if attestations:
            auth["attestations"] = copy.deepcopy(attestations)
        authorities.append(auth)
    if policy.rule(m.BaseImageRule) or policy.rule(m.PlatformsRule):
        notes.append("policy-controller: base image and platform rules are checked by sccheck only")
    doc = {
        "apiVersion": "policy.sigstore.dev/v1beta1",
        "kind": "ClusterImagePolicy",
        "metadata": {"name": _resource_name(policy),
                     "annotations": {"sccheck.dev/policy": policy.name,
                                     "sccheck.dev/policy-digest": policy.source_digest}},
        "spec": {"mode": "enforce", "images": [{"glob": g if g != "*" else "**"} for g in opts.images],
                 "authorities": authorities},
    }
    return ExportResult("policy-controller", doc, tuple(dict.fromkeys(notes)))


def export_policy(policy: m.Policy, fmt: str, opts: ExportOptions | None = None) -> ExportResult:
    opts = opts or ExportOptions()
    if fmt == "kyverno":
        return to_kyverno(policy, opts)
    if fmt == "policy-controller":
        return to_policy_controller(policy, opts)
    raise UsageError(f"unknown export format {fmt!r}", expected=" | ".join(FORMATS), found=fmt)
