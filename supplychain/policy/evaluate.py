"""Evaluate a policy's rules against already-verified evidence, and explain every verdict.

Each rule yields a `RuleResult` with a status:
- "pass": the evidence satisfies the rule;
- "fail": evidence was found but failed (a rejected bundle, or a condition not met);
- "no-evidence": nothing of the kind was found at all.
"expected" and "found" say, in words, what the rule wanted and what the image showed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from supplychain.attest.harden import harden_failures
from supplychain.attest.slsa import provenance_facts
from supplychain.attest.testresult import test_failures
from supplychain.attest.vuln import VulnFinding, vuln_report
from supplychain.policy import model as m
from supplychain.policy.evidence import ImageEvidence, RejectedBundle, VerifiedStatement

PASS, FAIL, NO_EVIDENCE = "pass", "fail", "no-evidence"


@dataclass(frozen=True)
class RuleResult:
    rule: str
    status: str
    expected: str
    found: str
    details: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()       # bundle digests that the verdict rests on

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "expected": self.expected, "found": self.found,
                "details": list(self.details), "evidence": list(self.evidence)}


@dataclass(frozen=True)
class PolicyReport:
    policy: str
    policy_digest: str
    reference: str
    digest: str
    results: tuple[RuleResult, ...]
    statements: tuple[VerifiedStatement, ...] = ()
    rejected: tuple[RejectedBundle, ...] = ()
    evaluated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.passed, "policy": self.policy, "policyDigest": self.policy_digest,
                "reference": self.reference, "digest": self.digest,
                "evaluatedAt": self.evaluated_at.isoformat(),
                "results": [r.to_dict() for r in self.results],
                "verified": [s.to_dict() for s in self.statements],
                "rejected": [b.to_dict() for b in self.rejected]}


def _rejections(ev: ImageEvidence, predicate_type: str) -> list[RejectedBundle]:
    # A rejected bundle whose predicate type is unknown (unreadable) counts against every rule.
    return [b for b in ev.rejected if b.predicate_type in (predicate_type, "")]


def _explain_rejected(rejected: Sequence[RejectedBundle], ev: ImageEvidence) -> list[str]:
    return [f"bundle {b.bundle_digest[:19]}… on {ev.label(b.attached_to)} rejected ({b.stage}): {b.reason}"
            for b in rejected]


def _of_type(ev: ImageEvidence, predicate_type: str) -> list[VerifiedStatement]:
    return [s for s in ev.statements if s.predicate_type == predicate_type]


def _coverage_rule(name: str, what: str, predicate_type: str, targets: Sequence[str],
                   ev: ImageEvidence) -> RuleResult:
    """Every target digest has a verified statement of `predicate_type` attached to it and naming it."""
    empty = _no_runnable(name, f"a verified {what} for every runnable image", ev)
    if empty is not None:
        return empty
    found = _of_type(ev, predicate_type)
    rejected = _rejections(ev, predicate_type)
    missing = [t for t in targets if not any(s.covers(t) for s in found)]
    expected = f"a verified {what} for " + ", ".join(ev.label(t) for t in targets)
    used = tuple(sorted({s.bundle_digest for s in found if any(s.covers(t) for t in targets)}))
    if not missing:
        return RuleResult(name, PASS, expected, f"{len(used)} verified {what} bundle(s) by "
                          + ", ".join(sorted({s.signer.describe() for s in found})), evidence=used)
    details = [f"no verified {what} for {ev.label(t)}" for t in missing]
    details += _explain_rejected(rejected, ev)
    if not found and not rejected:
        return RuleResult(name, NO_EVIDENCE, expected, f"no {what} found", tuple(details))
    summary = (f"{len(missing)} of {len(targets)} digest(s) without a verified {what}"
               + (f"; {len(rejected)} bundle(s) rejected" if rejected else ""))
    return RuleResult(name, FAIL, expected, summary, tuple(details), used)


def _no_runnable(name: str, expected: str, ev: ImageEvidence) -> RuleResult | None:
    """An index without a runnable child offers a runtime nothing to run: no per-image rule holds."""
    if ev.is_index and not ev.manifests:
        return RuleResult(name, FAIL, expected, f"the index {ev.digest} has no runnable image",
                          ("every child is an attestation manifest or not an image",))
    return None


def _conditions_rule(name: str, rule_type: str, ev: ImageEvidence, expected: str,
                     check: Callable[[VerifiedStatement], list[str]],
                     choose: Callable[[list[VerifiedStatement]], list[VerifiedStatement]] | None = None,
                     ) -> RuleResult:
    """Each runnable image on its own: it needs a verified statement of the type attached to it
    and naming it, and every chosen statement of its own must pass `check`."""
    empty = _no_runnable(name, expected, ev)
    if empty is not None:
        return empty
    of_type = _of_type(ev, rule_type)
    rejected = _rejections(ev, rule_type)
    problems: list[str] = []
    used: set[str] = set()
    missing = []
    for target in ev.platform_digests:
        own = [s for s in of_type if s.covers(target)]
        if not own:
            missing.append(target)
            continue
        chosen = choose(own) if choose else own
        used.update(s.bundle_digest for s in chosen)
        label = f"{ev.label(target)}: " if ev.is_index else ""
        for s in chosen:
            problems += [f"{label}{p} (bundle {s.bundle_digest[:19]}…)" for p in check(s)]
    evidence = tuple(sorted(used))
    details = [f"no verified attestation of type {rule_type} attached to {ev.label(t)}" for t in missing]
    if len(missing) == len(ev.platform_digests):
        details += _explain_rejected(rejected, ev)
        if rejected:
            return RuleResult(name, FAIL, expected, f"{len(rejected)} bundle(s) found, none verified",
                              tuple(details))
        return RuleResult(name, NO_EVIDENCE, expected, f"no attestation of type {rule_type} found",
                          tuple(details))
    if problems or missing:
        everything = problems + details + _explain_rejected(rejected, ev)
        first = problems[0] if problems else (f"{len(missing)} of {len(ev.platform_digests)} image(s) "
                                               "without their own verified attestation")
        return RuleResult(name, FAIL, expected, first, tuple(everything), evidence)
    return RuleResult(name, PASS, expected, f"{len(used)} verified attestation(s) meet the conditions"
                      + (f" for each of {len(ev.platform_digests)} images" if ev.is_index else ""),
                      evidence=evidence)


def _provenance(rule: m.ProvenanceRule, ev: ImageEvidence) -> RuleResult:
    wants = []
    if rule.builder_id:
        wants.append(f"builder id {rule.builder_id.describe()}")
    if rule.source_repository:
        wants.append(f"source repository {rule.source_repository.describe()}")
    if rule.build_type:
        wants.append(f"build type {rule.build_type.describe()}")
    if rule.commit_present:
        wants.append("a source commit")
    expected = "SLSA provenance v1" + (" with " + ", ".join(wants) if wants else "")

    def check(s: VerifiedStatement) -> list[str]:
        facts = provenance_facts(s.predicate)
        out = []
        if rule.builder_id and not rule.builder_id.matches(facts.builder_id):
            out.append(f"builder id is {facts.builder_id!r}, expected {rule.builder_id.describe()}")
        if rule.build_type and not rule.build_type.matches(facts.build_type):
            out.append(f"build type is {facts.build_type!r}, expected {rule.build_type.describe()}")
        if rule.source_repository and not any(rule.source_repository.matches(r) for r in facts.repositories):
            out.append(f"source repositories are {list(facts.repositories)}, expected "
                       f"{rule.source_repository.describe()}")
        if rule.commit_present and not facts.commits:
            out.append("no source commit (resolvedDependencies[].digest.gitCommit) in the provenance")
        return out

    return _conditions_rule(rule.name, rule.predicate_type, ev, expected, check)


def _vulns(rule: m.VulnerabilityRule, ev: ImageEvidence, now: dt.datetime) -> RuleResult:
    expected = f"no vulnerability above {rule.max_severity} except allowlisted ones"
    if rule.max_age:
        expected += f", scanned within {_age(rule.max_age)}"
    limit = m.severity_rank(rule.max_severity)
    allow = {a.id: a for a in rule.allow}

    def when(s: VerifiedStatement) -> dt.datetime:
        try:
            return vuln_report(s.predicate).scanned_at or dt.datetime.min.replace(tzinfo=dt.UTC)
        except ValueError:
            return dt.datetime.max.replace(tzinfo=dt.UTC)  # an unreadable report is judged first

    def newest(found: list[VerifiedStatement]) -> list[VerifiedStatement]:
        """The newest scan among one image's own statements."""
        return [max(found, key=when)]

    def check(s: VerifiedStatement) -> list[str]:
        try:
            report = vuln_report(s.predicate)
        except ValueError as exc:
            return [f"vulnerability report is unreadable: {exc}"]
        out = []
        if rule.max_age:
            if report.scanned_at is None:
                out.append("the scan has no time (metadata.scanFinishedOn), so its age is unknown")
            elif now - report.scanned_at > rule.max_age:
                out.append(f"the scan is {_age(now - report.scanned_at)} old "
                           f"(finished {report.scanned_at.isoformat()}), older than {_age(rule.max_age)}")
        for f in report.findings:
            if m.severity_rank(f.severity) <= limit:
                continue
            entry = allow.get(f.id) or next((allow[a] for a in f.aliases if a in allow), None)
            if entry and entry.expires >= now.date():
                continue
            out.append(_vuln_problem(f, entry, rule.max_severity))
        return out

    return _conditions_rule(rule.name, rule.predicate_type, ev, expected, check, newest)


def _vuln_problem(f: VulnFinding, entry: m.AllowedVulnerability | None, max_severity: str) -> str:
    where = f" in {f.package}" if f.package else ""
    if entry:
        return (f"{f.id} ({f.severity}){where}: its allowlist entry expired on {entry.expires.isoformat()} "
                f"(reason was: {entry.reason})")
    return f"{f.id} ({f.severity}){where} is above {max_severity} and not allowlisted"


def _age(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, hours, mins = minutes // 1440, (minutes // 60) % 24, minutes % 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins else ""]
    return "".join(parts) or "0m"


def _tests(rule: m.TestResultRule, ev: ImageEvidence) -> RuleResult:
    return _conditions_rule(rule.name, rule.predicate_type, ev, "test results with every test passed",
                            lambda s: test_failures(s.predicate))


def _harden(rule: m.HardenRule, ev: ImageEvidence) -> RuleResult:
    return _conditions_rule(rule.name, rule.predicate_type, ev, "a clean hardening report",
                            lambda s: harden_failures(s.predicate))


def _repo_of(name: str) -> str:
    base = name.split("@", 1)[0]
    last = base.rsplit("/", 1)
    if len(last) == 2 and ":" in last[1]:
        base = last[0] + "/" + last[1].split(":", 1)[0]
    return base


def _base_images(rule: m.BaseImageRule, ev: ImageEvidence) -> RuleResult:
    expected = "base image one of: " + ", ".join(b.describe() for b in rule.allowed)
    empty = _no_runnable(rule.name, expected, ev)
    if empty is not None:
        return empty
    problems, seen, missing = [], [], []
    for mf in ev.manifests:
        if not mf.base_digest and not mf.base_name:
            missing.append(f"{ev.label(mf.digest)} declares no base image "
                           "(org.opencontainers.image.base.name/.digest)")
            continue
        seen.append(f"{mf.base_name or '?'}@{mf.base_digest or '?'}")
        ok = any((b.digest and b.digest == mf.base_digest)
                 or (b.repository and mf.base_name and _repo_of(mf.base_name) == b.repository)
                 for b in rule.allowed)
        if not ok:
            problems.append(f"{ev.label(mf.digest)} is built on {mf.base_name or '?'}@"
                            f"{mf.base_digest or '?'}, which is not allowed")
    if missing and not seen:
        return RuleResult(rule.name, NO_EVIDENCE, expected, "no base image declared", tuple(missing))
    if problems or missing:
        all_problems = problems + missing
        return RuleResult(rule.name, FAIL, expected, all_problems[0], tuple(all_problems))
    return RuleResult(rule.name, PASS, expected, ", ".join(sorted(set(seen))))


def _platforms(rule: m.PlatformsRule, ev: ImageEvidence) -> RuleResult:
    have = [mf.platform for mf in ev.manifests]
    missing = [p for p in rule.required if p not in have]
    expected = "platforms " + ", ".join(rule.required)
    found = "platforms " + (", ".join(have) or "none")
    if missing:
        return RuleResult(rule.name, FAIL, expected, found, tuple(f"missing platform {p}" for p in missing))
    return RuleResult(rule.name, PASS, expected, found)


def evaluate(policy: m.Policy, ev: ImageEvidence, now: dt.datetime | None = None) -> PolicyReport:
    now = now or dt.datetime.now(dt.UTC)
    results: list[RuleResult] = []
    for rule in policy.requirements.children:
        if isinstance(rule, m.SignatureRule):
            targets = ev.all_digests if rule.every_platform else (ev.digest,)
            results.append(_coverage_rule(rule.name, "signature", m.PREDICATE_SIGNATURE, targets, ev))
        elif isinstance(rule, m.SbomRule):
            targets = ev.platform_digests if rule.every_platform else (ev.digest,)
            results.append(_coverage_rule(rule.name, "SBOM", rule.predicate_type, targets, ev))
        elif isinstance(rule, m.ProvenanceRule):
            results.append(_provenance(rule, ev))
        elif isinstance(rule, m.VulnerabilityRule):
            results.append(_vulns(rule, ev, now))
        elif isinstance(rule, m.TestResultRule):
            results.append(_tests(rule, ev))
        elif isinstance(rule, m.HardenRule):
            results.append(_harden(rule, ev))
        elif isinstance(rule, m.BaseImageRule):
            results.append(_base_images(rule, ev))
        elif isinstance(rule, m.PlatformsRule):
            results.append(_platforms(rule, ev))
        else:  # pragma: no cover - the model is closed
            raise AssertionError(f"unknown rule {rule!r}")
    if policy.steps is not None:
        from supplychain.policy.chain import evaluate_chain

        results.append(evaluate_chain(policy, ev))
    return PolicyReport(policy.name, policy.source_digest, ev.reference, ev.digest, tuple(results),
                        ev.statements, ev.rejected, now)
