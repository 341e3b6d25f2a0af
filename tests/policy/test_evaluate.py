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


ALL3 = (INDEX, AMD, ARM)


def stmt(n: int, ptype: str, subjects: tuple[str, ...], predicate: dict[str, Any] | None = None,
         attached: tuple[str, ...] | None = None) -> list[VerifiedStatement]:
    """One bundle as the verifier sees it: one verified statement per digest it is attached to
    (by default, as the evidence layout attaches it: to every digest it names)."""
    return [VerifiedStatement(f"sha256:{n:064x}", where, ptype, subjects, SIGNER, predicate or {})
            for where in (attached if attached is not None else subjects)]


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
    return {"scanner": {"uri": "pkg:golang/golang.org/x/vuln", "result": {"vulnerabilities": findings}},
            "metadata": {"scanStartedOn": finished, "scanFinishedOn": finished}}


TESTS_OK = {"result": "PASSED", "passedTests": ["TestHello"], "failedTests": []}
HARDEN_OK = {"passed": True, "threshold": "medium", "findings": [{"rule": "H001", "severity": "low",
                                                                   "message": "minor"}]}


def full_evidence(**over: Any) -> ImageEvidence:
    statements = [
        *stmt(1, m.PREDICATE_SIGNATURE, ALL3),
        *stmt(2, m.PREDICATE_SLSA, ALL3, PROVENANCE),
        *stmt(3, m.PREDICATE_SBOM, (INDEX, AMD), {"bomFormat": "CycloneDX"}),
        *stmt(4, m.PREDICATE_SBOM, (INDEX, ARM), {"bomFormat": "CycloneDX"}),
        *stmt(5, m.PREDICATE_VULN, ALL3, vulns([{"id": "GO-2024-0001", "severity": "high"},
                                                {"id": "GO-2024-0002", "severity": "low"}])),
        *stmt(6, m.PREDICATE_TEST, ALL3, TESTS_OK),
        *stmt(7, m.PREDICATE_HARDEN, ALL3, HARDEN_OK),
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
    r = results(full_evidence(drop=(m.PREDICATE_SIGNATURE,), extra=sig))["signature"]
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
    assert any("rejected (subject): statement subjects do not include" in d for d in r.details)
    assert f"no verified attestation of type {m.PREDICATE_TEST} attached to linux/amd64 {AMD}" in r.details


def test_provenance_conditions_explain_expected_and_found() -> None:
    bad = {**PROVENANCE, "runDetails": {"builder": {"id": "https://evil.example/builder"}},
           "buildDefinition": {"buildType": "https://sccheck.dev/build/v1", "resolvedDependencies": []}}
    r = results(full_evidence(drop=(m.PREDICATE_SLSA,), extra=stmt(2, m.PREDICATE_SLSA, ALL3, bad)))
    prov = r["provenance"]
    assert prov.status == FAIL
    assert prov.details[0].startswith(f"linux/amd64 {AMD}: builder id is 'https://evil.example/builder', expected "
                                      "'https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.0.0'")
    assert any("source repositories are [], expected 'https://github.com/acme/hello'" in d for d in prov.details)
    assert any("no source commit" in d for d in prov.details)


def test_vulnerability_above_threshold_and_expired_allowlist() -> None:
    finding = [{"id": "GO-2024-0009", "severity": "critical", "module": "golang.org/x/net"}]
    r = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=stmt(5, m.PREDICATE_VULN, ALL3, vulns(finding))))
    assert r["vulnerabilities"].status == FAIL
    assert r["vulnerabilities"].found.startswith(
        f"linux/amd64 {AMD}: GO-2024-0009 (critical) in golang.org/x/net is above medium and not allowlisted")
    later = dt.datetime(2027, 2, 1, 9, 0, tzinfo=dt.UTC)
    ev = full_evidence(drop=(m.PREDICATE_VULN,), extra=stmt(5, m.PREDICATE_VULN, ALL3, vulns(
        [{"id": "GO-2024-0001", "severity": "high"}], "2027-01-31T12:00:00Z")))
    report = evaluate(load_policy(ASSETS / "policy_full_release_gate.yaml"), ev, later)
    v = {x.rule: x for x in report.results}["vulnerabilities"]
    assert v.status == FAIL
    assert "allowlist entry expired on 2027-01-31 (reason was: not reachable from our code)" in v.found


def test_old_scan_fails_and_newest_scan_wins() -> None:
    old = stmt(5, m.PREDICATE_VULN, (INDEX, AMD, ARM), vulns([], "2026-11-01T00:00:00Z"))
    r = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=old))["vulnerabilities"]
    assert r.status == FAIL
    assert "the scan is 27d12h old (finished 2026-11-01T00:00:00+00:00), older than 7d" in r.found
    newer = stmt(8, m.PREDICATE_VULN, (INDEX, AMD, ARM), vulns([], "2026-11-28T00:00:00Z"))
    assert results(full_evidence(drop=(m.PREDICATE_VULN,), extra=old + newer))["vulnerabilities"].status == PASS


def test_unreadable_vuln_report_fails_closed() -> None:
    r = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=stmt(5, m.PREDICATE_VULN, ALL3,
                                                                    {"scanner": {"result": {}}})))
    assert r["vulnerabilities"].status == FAIL
    assert "unreadable" in r["vulnerabilities"].found


def test_failed_tests_and_dirty_harden_report() -> None:
    tests = {"result": "FAILED", "failedTests": ["TestA", "TestB"]}
    harden = {"passed": False, "threshold": "medium",
              "findings": [{"rule": "H010", "severity": "high", "message": "runs as root"}]}
    r = results(full_evidence(drop=(m.PREDICATE_TEST, m.PREDICATE_HARDEN),
                              extra=stmt(6, m.PREDICATE_TEST, ALL3, tests)
                              + stmt(7, m.PREDICATE_HARDEN, ALL3, harden)))
    assert r["tests"].details == tuple(
        f"{label}: {problem} (bundle sha256:000000000000…)"
        for label in (f"linux/amd64 {AMD}", f"linux/arm64 {ARM}")
        for problem in ("test result is 'FAILED', expected 'PASSED' (or 'WARNED')", "2 failed test(s): TestA, TestB"))
    assert r["harden"].status == FAIL
    assert any("H010 (high): runs as root" in d for d in r["harden"].details)


def test_sbom_missing_for_one_platform() -> None:
    r = results(full_evidence(drop=(m.PREDICATE_SBOM,), extra=stmt(3, m.PREDICATE_SBOM, (INDEX, AMD), {})))
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
    r = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=stmt(5, m.PREDICATE_VULN, ALL3, predicate)))
    assert r["vulnerabilities"].details == tuple(
        f"{label}: GO-2025-0042 (high) in golang.org/x/net is above medium and not allowlisted (bundle sha256:000000000000…)"
        for label in (f"linux/amd64 {AMD}", f"linux/arm64 {ARM}"))
    warned = {"result": "WARNED", "failedTests": [], "warnedTests": ["staticcheck SA1019"]}
    r = results(full_evidence(drop=(m.PREDICATE_TEST,), extra=stmt(6, m.PREDICATE_TEST, ALL3, warned)))
    assert r["tests"].status == PASS


NEW = "sha256:" + "f" * 64
TWO = (ManifestFacts(AMD, "linux/amd64", "registry.example.com/base/static:1", "sha256:" + "d" * 64),
       ManifestFacts(ARM, "linux/arm64", "registry.example.com/base/static@sha256:" + "e" * 64, ""))


def test_evidence_attached_to_one_child_never_counts_for_another() -> None:
    # Provenance naming every digest but attached only to the amd64 child: arm64 has none of its own.
    only_amd = stmt(2, m.PREDICATE_SLSA, ALL3, PROVENANCE, attached=(INDEX, AMD))
    prov = results(full_evidence(drop=(m.PREDICATE_SLSA,), extra=only_amd))["provenance"]
    assert prov.status == FAIL
    assert f"no verified attestation of type {m.PREDICATE_SLSA} attached to linux/arm64 {ARM}" in prov.details
    assert prov.found == "1 of 2 image(s) without their own verified attestation"
    # An SBOM of amd64 attached to arm64 (its subjects do not name arm64): it does not count there.
    wrong = stmt(4, m.PREDICATE_SBOM, (INDEX, AMD), {}, attached=(ARM,))
    sbom = results(full_evidence(drop=(m.PREDICATE_SBOM,), extra=stmt(3, m.PREDICATE_SBOM, (INDEX, AMD)) + wrong))
    assert sbom["sbom"].status == FAIL and sbom["sbom"].details == (f"no verified SBOM for linux/arm64 {ARM}",)


def test_each_child_is_judged_on_its_own_conditions() -> None:
    bad = {**PROVENANCE, "runDetails": {"builder": {"id": "https://evil.example/builder"}}}
    per_child = (stmt(2, m.PREDICATE_SLSA, (INDEX, AMD), PROVENANCE)
                 + stmt(9, m.PREDICATE_SLSA, (INDEX, ARM), bad))
    prov = results(full_evidence(drop=(m.PREDICATE_SLSA,), extra=per_child))["provenance"]
    assert prov.status == FAIL
    assert prov.details[0].startswith(f"linux/arm64 {ARM}: builder id is 'https://evil.example/builder'")
    assert not any(d.startswith(f"linux/amd64 {AMD}") for d in prov.details)
    # The newest scan of EACH child: an old scan of arm64 fails although amd64's is fresh.
    fresh = stmt(5, m.PREDICATE_VULN, (INDEX, AMD), vulns([], "2026-11-28T00:00:00Z"))
    stale = stmt(8, m.PREDICATE_VULN, (INDEX, ARM), vulns([], "2026-11-01T00:00:00Z"))
    v = results(full_evidence(drop=(m.PREDICATE_VULN,), extra=fresh + stale))["vulnerabilities"]
    assert v.status == FAIL and v.found.startswith(f"linux/arm64 {ARM}: the scan is 27d12h old")


def test_an_index_that_gains_a_child_fails_every_rule_the_child_cannot_meet() -> None:
    # Everything was made for INDEX/AMD/ARM; the new index NEW2 lists a third child nobody signed,
    # and someone signed only the new index.
    new_index = "sha256:" + "9" * 64
    grown = (*TWO, ManifestFacts(NEW, "linux/s390x"))
    old = [s for s in full_evidence().statements if s.attached_to != INDEX]
    sig = stmt(10, m.PREDICATE_SIGNATURE, (new_index,))
    ev = ImageEvidence("reg/acme/hello:v2", new_index, True, grown, tuple(old + sig))
    report = {r.rule: r for r in evaluate(load_policy(ASSETS / "policy_full_release_gate.yaml"), ev, NOW).results}
    for rule in ("signature", "provenance", "sbom", "vulnerabilities", "tests", "harden", "base-image"):
        assert report[rule].status == FAIL, rule
        assert any(f"linux/s390x {NEW}" in d for d in report[rule].details), rule
    assert report["platforms"].status == PASS    # amd64 and arm64 are still there


def test_platform_less_child_needs_its_own_evidence_and_an_empty_index_fails() -> None:
    bare = (*TWO, ManifestFacts(NEW, "unknown"))
    r = results(full_evidence(manifests=bare))
    assert r["signature"].status == FAIL
    assert r["signature"].details == (f"no verified signature for unknown {NEW}",)
    assert r["provenance"].status == FAIL
    empty = results(full_evidence(manifests=()))
    for rule in ("signature", "provenance", "sbom", "vulnerabilities", "tests", "harden", "base-image"):
        assert empty[rule].status == FAIL and "has no runnable image" in empty[rule].found, rule
