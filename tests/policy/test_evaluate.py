"""Evaluation of verified evidence: pass, fail (with expected vs found) and no-evidence."""

# ruff: noqa: E501
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from supplychain.policy import load_policy
from supplychain.policy import model as m
from supplychain.policy.evaluate import FAIL, NO_EVIDENCE, PASS, evaluate
from supplychain.policy.evidence import (
    ImageEvidence,
    ManifestFacts,
    RejectedBundle,
    Signer,
    VerifiedStatement,
)

ASSETS = Path(__file__).parent / "assets"
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
INDEX = "sha256:" + "a" * 64
AMD = "sha256:" + "b" * 64
ARM = "sha256:" + "c" * 64
SIGNER = Signer("keyless", "https://token.actions.githubusercontent.com",
                "https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.0.0")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def stmt(n: int, ptype: str, subjects: tuple[str, ...], predicate: dict[str, Any] | None = None,
         attached: str = INDEX) -> VerifiedStatement:
    return VerifiedStatement(f"sha256:{n:064x}", attached, ptype, subjects, SIGNER, predicate or {})


PROVENANCE = {
    "buildDefinition": {
        "buildType": "https://sccheck.dev/build/v1",
        "externalParameters": {"workflow": {"repository": "https://github.com/acme/hello"}},
        "resolvedDependencies": [{"uri": "git+https://github.com/acme/hello@refs/tags/v1.0.0",
                                  "digest": {"gitCommit": COMMIT}}],
    },
    "runDetails": {"builder": {"id": "https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.0.0"}},
}


def vulns(findings: list[dict[str, Any]], finished: str = "2026-11-27T12:00:00Z") -> dict[str, Any]:
    return {"scanner": {"uri": "pkg:golang/golang.org/x/vuln", "result": {"findings": findings}},
            "metadata": {"scanStartedOn": finished, "scanFinishedOn": finished}}


TESTS_OK = {"result": "PASSED", "passedTests": ["TestHello"], "failedTests": []}
HARDEN_OK = {"passed": True, "threshold": "medium", "findings": [{"rule": "H001", "severity": "low",
                                                                   "message": "minor"}]}


def full_evidence(**over: Any) -> ImageEvidence:
    all3 = (INDEX, AMD, ARM)
    statements = [
        stmt(1, m.PREDICATE_SIGNATURE, all3),
        stmt(2, m.PREDICATE_SLSA, all3, PROVENANCE),
        stmt(3, m.PREDICATE_SBOM, (AMD,), {"bomFormat": "CycloneDX"}, AMD),
        stmt(4, m.PREDICATE_SBOM, (ARM,), {"bomFormat": "CycloneDX"}, ARM),
        stmt(5, m.PREDICATE_VULN, all3, vulns([{"id": "GO-2024-0001", "severity": "high"},
                                               {"id": "GO-2024-0002", "severity": "low"}])),
        stmt(6, m.PREDICATE_TEST, all3, TESTS_OK),
        stmt(7, m.PREDICATE_HARDEN, all3, HARDEN_OK),
    ]
    drop = over.pop("drop", ())
    extra = over.pop("extra", [])
    statements = [s for s in statements if s.predicate_type not in drop] + extra
    manifests = over.pop("manifests", (
        ManifestFacts(AMD, "linux/amd64", "registry.example.com/base/static:1", "sha256:" + "d" * 64),
        ManifestFacts(ARM, "linux/arm64", "registry.example.com/base/static@sha256:" + "e" * 64, ""),
    ))
    return ImageEvidence("reg/acme/hello:v1", INDEX, True, manifests, tuple(statements),
                         tuple(over.pop("rejected", ())))


def results(ev: ImageEvidence, policy: str = "policy_full_release_gate.yaml") -> dict[str, Any]:
    report = evaluate(load_policy(ASSETS / policy), ev, NOW)
    return {r.rule: r for r in report.results}


def test_everything_present_passes() -> None:
    report = evaluate(load_policy(ASSETS / "policy_full_release_gate.yaml"), full_evidence(), NOW)
    assert [(r.rule, r.status) for r in report.results] == [
        ("signature", PASS), ("provenance", PASS), ("sbom", PASS), ("vulnerabilities", PASS),
        ("tests", PASS), ("harden", PASS), ("base-image", PASS), ("platforms", PASS)]
    assert report.passed
    assert report.to_dict()["ok"] is True


def test_index_child_unsigned_fails_naming_the_child() -> None:
    sig = stmt(1, m.PREDICATE_SIGNATURE, (INDEX, AMD))
    r = results(full_evidence(drop=(m.PREDICATE_SIGNATURE,), extra=[sig]))["signature"]
    assert r.status == FAIL
    assert r.details == (f"no verified signature for linux/arm64 {ARM}",)
    assert r.found == "1 of 3 digest(s) without a verified signature"


def test_no_evidence_is_told_apart_from_failed_evidence() -> None:
    r = results(full_evidence(drop=(m.PREDICATE_TEST,)))["tests"]
    assert r.status == NO_EVIDENCE
    assert r.found == f"no attestation of type {m.PREDICATE_TEST} found"
    rejected = RejectedBundle("sha256:" + "9" * 64, INDEX, m.PREDICATE_TEST, "subject",
                              f"statement subjects do not include {INDEX}")
    r = results(full_evidence(drop=(m.PREDICATE_TEST,), rejected=[rejected]))["tests"]
    assert r.status == FAIL
    assert r.found == "1 bundle(s) found, none verified"
    assert "rejected (subject): statement subjects do not include" in r.details[0]


def test_provenance_conditions_explain_expected_and_found() -> None:
    bad = {**PROVENANCE, "runDetails": {"builder": {"id": "https://evil.example/builder"}},
           "buildDefinition": {"buildType": "https://sccheck.dev/build/v1", "resolvedDependencies": []}}
    r = results(full_evidence(drop=(m.PREDICATE_SLSA,), extra=[stmt(2, m.PREDICATE_SLSA, (INDEX,), bad)]))
    prov = r["provenance"]
    assert prov.status == FAIL
    assert prov.details[0].startswith("builder id is 'https://evil.example/builder', expected "
                                      "'https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.0.0'")
    assert any("source repositories are [], expected 'https://github.com/acme/hello'" in d for d in prov.details)
    assert any("no source commit" in d for d in prov.details)


def test_vulnerability_above_threshold_and_expired_allowlist() -> None:
    finding = [{"id": "GO-2024-0009", "severity": "critical", "package": "golang.org/x/net"}]
    r = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=[stmt(5, m.PREDICATE_VULN, (INDEX,), vulns(finding))]))
    assert r["vulnerabilities"].status == FAIL
    assert r["vulnerabilities"].found.startswith(
        "GO-2024-0009 (critical) in golang.org/x/net is above medium and not allowlisted")
    later = dt.datetime(2027, 2, 1, 9, 0, tzinfo=dt.UTC)
    ev = full_evidence(drop=(m.PREDICATE_VULN,), extra=[stmt(5, m.PREDICATE_VULN, (INDEX,), vulns(
        [{"id": "GO-2024-0001", "severity": "high"}], "2027-01-31T12:00:00Z"))])
    report = evaluate(load_policy(ASSETS / "policy_full_release_gate.yaml"), ev, later)
    v = {x.rule: x for x in report.results}["vulnerabilities"]
    assert v.status == FAIL
    assert "allowlist entry expired on 2027-01-31 (reason was: not reachable from our code)" in v.found


def test_old_scan_fails_and_newest_scan_wins() -> None:
    old = stmt(5, m.PREDICATE_VULN, (INDEX, AMD, ARM), vulns([], "2026-11-01T00:00:00Z"))
    r = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=[old]))["vulnerabilities"]
    assert r.status == FAIL
    assert "the scan is 27d12h old (finished 2026-11-01T00:00:00+00:00), older than 7d" in r.found
    newer = stmt(8, m.PREDICATE_VULN, (INDEX, AMD, ARM), vulns([], "2026-11-28T00:00:00Z"))
    assert results(full_evidence(drop=(m.PREDICATE_VULN,), extra=[old, newer]))["vulnerabilities"].status == PASS


def test_unreadable_vuln_report_fails_closed() -> None:
    r = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=[stmt(5, m.PREDICATE_VULN, (INDEX,),
                                                                    {"scanner": {"result": {}}})]))
    assert r["vulnerabilities"].status == FAIL
    assert "unreadable" in r["vulnerabilities"].found


def test_failed_tests_and_dirty_harden_report() -> None:
    tests = {"result": "FAILED", "failedTests": ["TestA", "TestB"]}
    harden = {"passed": False, "threshold": "medium",
              "findings": [{"rule": "H010", "severity": "high", "message": "runs as root"}]}
    r = results(full_evidence(drop=(m.PREDICATE_TEST, m.PREDICATE_HARDEN),
                              extra=[stmt(6, m.PREDICATE_TEST, (INDEX,), tests),
                                     stmt(7, m.PREDICATE_HARDEN, (INDEX,), harden)]))
    assert r["tests"].details == ("test result is 'FAILED', expected 'PASSED' (or 'WARNED') (bundle sha256:000000000000…)",
                                  "2 failed test(s): TestA, TestB (bundle sha256:000000000000…)")
    assert r["harden"].status == FAIL
    assert any("H010 (high): runs as root" in d for d in r["harden"].details)


def test_sbom_missing_for_one_platform() -> None:
    r = results(full_evidence(drop=(m.PREDICATE_SBOM,), extra=[stmt(3, m.PREDICATE_SBOM, (AMD,), {}, AMD)]))
    assert r["sbom"].status == FAIL
    assert r["sbom"].details == (f"no verified SBOM for linux/arm64 {ARM}",)


def test_base_image_and_platforms() -> None:
    manifests = (ManifestFacts(AMD, "linux/amd64", "docker.io/library/alpine:3", ""),)
    r = results(full_evidence(manifests=manifests))
    assert r["base-image"].status == FAIL
    assert r["base-image"].found == f"linux/amd64 {AMD} is built on docker.io/library/alpine:3@?, which is not allowed"
    assert r["platforms"].status == FAIL
    assert r["platforms"].details == ("missing platform linux/arm64",)
    pinned = (ManifestFacts(AMD, "linux/amd64", "", "sha256:" + "1" * 64),)
    assert results(full_evidence(manifests=pinned))["base-image"].status == PASS
    none = (ManifestFacts(AMD, "linux/amd64"),)
    assert results(full_evidence(manifests=none))["base-image"].status == NO_EVIDENCE


def test_vuln_report_in_the_shape_sccheck_check_writes() -> None:
    predicate = {"scanner": {"uri": "pkg:golang/golang.org/x/vuln@v1.1.4", "result": {
        "format": "govulncheck", "vulnerabilities": [
            {"id": "GO-2025-0042", "aliases": ["CVE-2025-1234"], "module": "golang.org/x/net", "severity": "high"},
            {"id": "GO-2025-0043", "aliases": [], "module": "stdlib", "severity": "info"}]}},
        "metadata": {"scanStartedOn": "2026-11-28T10:00:00Z", "scanFinishedOn": "2026-11-28T10:01:00Z"}}
    r = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=[stmt(5, m.PREDICATE_VULN, (INDEX,), predicate)]))
    assert r["vulnerabilities"].details == (
        "GO-2025-0042 (high) in golang.org/x/net is above medium and not allowlisted (bundle sha256:000000000000…)",)
    warned = {"result": "WARNED", "failedTests": [], "warnedTests": ["staticcheck SA1019"]}
    r = results(full_evidence(drop=(m.PREDICATE_TEST,), extra=[stmt(6, m.PREDICATE_TEST, (INDEX,), warned)]))
    assert r["tests"].status == PASS
