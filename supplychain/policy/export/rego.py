"""The conditions of an attestation rule as a Rego policy over one in-toto statement (`input`).

policy-controller evaluates `data.sigstore.isCompliant` on each verified attestation of the
type (the whole statement: `input.predicate` is the predicate); OPA evaluates the same text in
the parity tests. Every condition is the one `verify` applies (supplychain.policy.evaluate),
reading only the fields of `vocab`.
"""

from __future__ import annotations

import json

from supplychain.policy import model as m
from supplychain.policy.export import vocab
from supplychain.policy.export.common import Gaps, anchored

QUERY = "data.sigstore.isCompliant"


def _q(value: object) -> str:
    return json.dumps(value)


def _path(*parts: str) -> str:
    return "input.predicate" + "".join(f"[{_q(p)}]" for p in parts)


def _match(path: str, pattern: m.Pattern) -> list[str]:
    if pattern.regex:
        return [f"is_string({path})", f"regex.match({_q(anchored(pattern))}, {path})"]
    return [f"{path} == {_q(pattern.value)}"]


def _provenance(rule: m.ProvenanceRule, gaps: Gaps) -> tuple[list[str], list[str]]:
    body: list[str] = []
    helpers: list[str] = []
    if rule.builder_id:
        body += _match(_path(*vocab.BUILDER_ID), rule.builder_id)
    if rule.build_type:
        body += _match(_path(*vocab.BUILD_TYPE), rule.build_type)
    if rule.source_repository:
        gaps.add(rule.name, "the source repository condition (sccheck normalises git URIs from "
                 "resolvedDependencies and externalParameters) has no Rego export yet")
    if rule.commit_present:
        first, second = vocab.COMMIT_KEYS
        body.append("has_commit")
        helpers += [
            # Python's `or`: an empty or null first key falls through to the second.
            f"commit_of(d) := c if {{ c := d.digest[{_q(first)}]; not c in {{\"\", null, false}} }} "
            f"else := c if {{ c := d.digest[{_q(second)}] }}",
            "has_commit if {",
            f"  some d in {_path(*vocab.RESOLVED_DEPENDENCIES)}",
            "  is_object(d.digest)",
            "  is_string(d.uri)",
            "  c := commit_of(d)",
            "  is_string(c)",
            f"  regex.match({_q(vocab.COMMIT_RE2)}, c)",
            "}",
        ]
    return body, helpers


def _vulnerabilities(rule: m.VulnerabilityRule) -> tuple[list[str], list[str]]:
    ok = vocab.severities_at_most(rule.max_severity)
    allow = {a.id: vocab.allow_until(a) for a in rule.allow}
    findings = _path(*vocab.VULNERABILITIES)
    body = [f"is_array({findings})", f"every f in {findings} {{ readable(f); not blocking(f) }}"]
    helpers = [
        "readable(f) if { is_object(f); is_string(f.id); f.id != \"\" }",
        "severity(f) := lower(trim_space(f.severity)) if { is_string(f.severity) } else := \"unknown\"",
        f"within_limit(f) if severity(f) in {_q(ok).replace('[', '{').replace(']', '}')}",
        "blocking(f) if { not within_limit(f); not allowed(f) }",
        f"allowlist := {_q(allow)}",
        # verify: the entry for the id, else the one for the first allowlisted alias
        "entry(f) := u if { u := allowlist[f.id] } else := u if {",
        "  hits := [x | some x in object.get(f, \"aliases\", []); allowlist[x]]",
        "  u := allowlist[hits[0]]",
        "}",
        "allowed(f) if time.now_ns() < time.parse_rfc3339_ns(entry(f))",
    ]
    if rule.max_age:
        (f1, f2), (s1, s2) = vocab.SCAN_TIMES
        limit_ns = int(rule.max_age.total_seconds()) * 1_000_000_000
        body.append(f"time.now_ns() - scan_time <= {limit_ns}")
        helpers += [f"scan_time := t if {{ t := time.parse_rfc3339_ns({_path(f1, f2)}) }} "
                    f"else := t if {{ t := time.parse_rfc3339_ns({_path(s1, s2)}) }}"]
    return body, helpers


def _tests() -> tuple[list[str], list[str]]:
    result = _path(*vocab.TEST_RESULT)
    failed = _path(*vocab.FAILED_TESTS)
    passing = _q(list(vocab.TEST_PASSING)).replace("[", "{").replace("]", "}")
    return [f"{result} in {passing}", "not failing_tests"], [
        f"failing_tests if {{ ft := {failed}; ft != null; not is_array(ft) }}",
        f"failing_tests if count({failed}) > 0",
    ]


def _harden() -> tuple[list[str], list[str]]:
    findings = _path(*vocab.HARDEN_FINDINGS)
    threshold = _path(*vocab.HARDEN_THRESHOLD)
    return [f"is_array({findings})", f"is_string({threshold})", f"{_path(*vocab.HARDEN_PASSED)} == true",
            f"every f in {findings} {{ is_object(f); rank(object.get(f, \"severity\", \"unknown\")) < "
            f"rank({threshold}) }}"], [
        f"ranks := {_q(vocab.SEVERITY_RANKS)}",
        f"rank(s) := r if {{ is_string(s); r := ranks[lower(trim_space(s))] }} else := {vocab.UNKNOWN_RANK}",
    ]


def rego_for(rule: m.AttestationRule, gaps: Gaps) -> str | None:
    """The Rego module for `rule`'s conditions, or None when the rule has none (SBOM)."""
    if isinstance(rule, m.ProvenanceRule):
        body, helpers = _provenance(rule, gaps)
    elif isinstance(rule, m.VulnerabilityRule):
        body, helpers = _vulnerabilities(rule)
    elif isinstance(rule, m.TestResultRule):
        body, helpers = _tests()
    elif isinstance(rule, m.HardenRule):
        body, helpers = _harden()
    else:
        return None
    if not body:
        return None
    lines = [f"# sccheck rule {rule.name!r} ({rule.predicate_type})", "package sigstore", "",
             "import rego.v1", "", "default isCompliant := false", "", "isCompliant if {"]
    lines += [f"  {b}" for b in body] + ["}", ""] + helpers
    return "\n".join(lines) + "\n"
