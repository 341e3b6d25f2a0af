"""The conditions of an attestation rule as a CEL expression over one in-toto statement `p`.

Kyverno's `extractPayload(image, attestation)` gives the whole verified statement, so the
predicate is `p.predicate`. Every condition is the one `verify` applies (see rego.py for the
same conditions in Rego), reading only the fields of `vocab`. `time.now()` is Kyverno's clock.
"""

from __future__ import annotations

import json

from supplychain.policy import model as m
from supplychain.policy.export import vocab
from supplychain.policy.export.common import Gaps, anchored


def lit(value: object) -> str:
    """A CEL literal: JSON strings, lists and maps are valid CEL."""
    return json.dumps(value)


def _has(root: str, parts: tuple[str, ...]) -> str:
    """`has()` on each step, so a missing field is false, never an evaluation error."""
    checks, path = [], root
    for part in parts:
        checks.append(f"has({path}.{part})")
        path = f"{path}.{part}"
    return " && ".join(checks)


def field(root: str, parts: tuple[str, ...]) -> str:
    return root + "".join(f".{p}" for p in parts)


def _match(root: str, parts: tuple[str, ...], pattern: m.Pattern) -> str:
    value = field(root, parts)
    if pattern.regex:
        regex = lit(anchored(pattern))
        return f"({_has(root, parts)} && type({value}) == string && {value}.matches({regex}))"
    return f"({_has(root, parts)} && {value} == {lit(pattern.value)})"


def _provenance(rule: m.ProvenanceRule, gaps: Gaps) -> list[str]:
    out: list[str] = []
    if rule.builder_id:
        out.append(_match("p.predicate", vocab.BUILDER_ID, rule.builder_id))
    if rule.build_type:
        out.append(_match("p.predicate", vocab.BUILD_TYPE, rule.build_type))
    if rule.source_repository:
        gaps.add(rule.name, "the source repository condition (sccheck normalises git URIs from "
                 "resolvedDependencies and externalParameters) has no CEL export yet")
    if rule.commit_present:
        deps = field("p.predicate", vocab.RESOLVED_DEPENDENCIES)
        first, second = vocab.COMMIT_KEYS
        commit = (f"(has(d.digest.{first}) && d.digest.{first} != '' && d.digest.{first} != null "
                  f"? d.digest.{first} : (has(d.digest.{second}) ? d.digest.{second} : ''))")
        out.append(f"({_has('p.predicate', vocab.RESOLVED_DEPENDENCIES)} && type({deps}) == list && "
                   f"{deps}.exists(d, type(d) == map && has(d.uri) && type(d.uri) == string && "
                   f"has(d.digest) && type(d.digest) == map && "
                   f"cel.bind(c, {commit}, type(c) == string && c.matches({lit(vocab.COMMIT_RE2)}))))")
    return out


def _vulnerabilities(rule: m.VulnerabilityRule) -> list[str]:
    findings = field("p.predicate", vocab.VULNERABILITIES)
    ok = lit(vocab.severities_at_most(rule.max_severity))
    severity = "(has(f.severity) && type(f.severity) == string ? f.severity.trim().lowerAscii() : 'unknown')"
    allowed = "false"
    if rule.allow:
        entries = lit({a.id: vocab.allow_until(a) for a in rule.allow})
        # verify: the entry for the id, else the one for the first allowlisted alias
        allowed = (f"cel.bind(allow, {entries}, cel.bind(key, f.id in allow ? f.id : "
                   "(has(f.aliases) && type(f.aliases) == list && f.aliases.exists(a, a in allow) "
                   "? f.aliases.filter(a, a in allow)[0] : ''), "
                   "key != '' && time.now() < timestamp(allow[key])))")
    out = [f"({_has('p.predicate', vocab.VULNERABILITIES)} && type({findings}) == list && "
           f"{findings}.all(f, type(f) == map && has(f.id) && type(f.id) == string && f.id != '' && "
           f"({severity} in {ok} || {allowed})))"]
    if rule.max_age:
        (f1, f2), (s1, s2) = vocab.SCAN_TIMES
        when = (f"({_has('p.predicate', (f1, f2))} ? p.predicate.{f1}.{f2} : "
                f"({_has('p.predicate', (s1, s2))} ? p.predicate.{s1}.{s2} : ''))")
        seconds = int(rule.max_age.total_seconds())
        out.append(f"cel.bind(t, {when}, type(t) == string && t != '' && "
                   f"time.now() - timestamp(t) <= duration('{seconds}s'))")
    return out


def _tests() -> list[str]:
    result = field("p.predicate", vocab.TEST_RESULT)
    failed = field("p.predicate", vocab.FAILED_TESTS)
    return [f"({_has('p.predicate', vocab.TEST_RESULT)} && {result} in {lit(list(vocab.TEST_PASSING))})",
            f"(!{_has('p.predicate', vocab.FAILED_TESTS)} || {failed} == null || "
            f"(type({failed}) == list && size({failed}) == 0))"]


def _harden() -> list[str]:
    findings = field("p.predicate", vocab.HARDEN_FINDINGS)
    threshold = field("p.predicate", vocab.HARDEN_THRESHOLD)
    ranks = lit(vocab.SEVERITY_RANKS)

    def rank(expr: str) -> str:
        return (f"cel.bind(s, {expr}, type(s) == string && s.trim().lowerAscii() in {ranks} "
                f"? {ranks}[s.trim().lowerAscii()] : {vocab.UNKNOWN_RANK})")

    severity = rank("has(f.severity) ? f.severity : 'unknown'")
    passed = field("p.predicate", vocab.HARDEN_PASSED)
    return [f"({_has('p.predicate', vocab.HARDEN_PASSED)} && {passed} == true)",
            f"({_has('p.predicate', vocab.HARDEN_FINDINGS)} && type({findings}) == list && "
            f"{_has('p.predicate', vocab.HARDEN_THRESHOLD)} && type({threshold}) == string && "
            f"{findings}.all(f, type(f) == map && "
            f"{severity} < {rank(threshold)}))"]


def conditions(rule: m.AttestationRule, gaps: Gaps) -> list[str]:
    """CEL expressions over the statement `p`, all of which must hold; [] when none (SBOM)."""
    if isinstance(rule, m.ProvenanceRule):
        return _provenance(rule, gaps)
    if isinstance(rule, m.VulnerabilityRule):
        return _vulnerabilities(rule)
    if isinstance(rule, m.TestResultRule):
        return _tests()
    if isinstance(rule, m.HardenRule):
        return _harden()
    return []
