"""The policy precheck as a pure function: a verdict for every rule from what is known before the
run (signer, commit, planned predicates, platforms). Unit tests of our own logic."""

from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from supplychain.pipeline.precheck import (
    Plan,
    PolicyCannotPass,
    Signer,
    precheck,
    signer_from_claims,
)
from supplychain.pipeline.run import planned_predicates
from supplychain.policy.loader import parse_policy
from supplychain.tools import PROJECT_ROOT

ISSUER = "http://127.0.0.1:5556"
EMAIL = Signer("keyless", "test", issuer=ISSUER, subjects=("dev@sccheck.local",))
PLAN = Plan(signer=EMAIL, commit="a" * 40, dirty=False, source_repositories=("https://github.com/o/r", "o/r"),
            builder_id="https://sccheck.dev/builder/local", build_type="https://sccheck.dev/build/go-image/v1",
            predicate_types=planned_predicates(()), platforms=())


PROVENANCE = "signature: {}\nattestations:\n  provenance: {commitPresent: true}\n"


def _policy(identities: str, rules: str = PROVENANCE):
    text = f"apiVersion: sccheck.dev/v1\nkind: Policy\nname: t\nidentities:\n{identities}{rules}"
    return parse_policy(text.encode(), "t.yaml")


def _status(report):
    return {v.rule: v.status for v in report.verdicts}


EMAIL_ID = f"  - {{issuer: '{ISSUER}', subject: dev@sccheck.local}}\n"


def test_everything_known_passes_and_the_rest_waits() -> None:
    policy = _policy(EMAIL_ID, "signature: {}\nattestations:\n  provenance: {commitPresent: true}\n"
                               "  sbom: {}\n  vulnerabilities: {maxSeverity: medium}\n  tests: {}\n"
                               "  harden: {}\nbaseImages: [{repository: x/y}]\n")
    report = precheck(policy, PLAN)
    assert report.passed
    assert _status(report) == {"identity": "pass", "signature": "pass", "provenance": "pass", "sbom": "pass",
                               "vulnerabilities": "later", "tests": "later", "harden": "later",
                               "base-image": "later"}
    assert report.summary() == ("policy t: identity, signature, provenance, sbom pass; "
                                "vulnerabilities, tests, harden, base-image judged after the steps")


def test_no_commit_fails_provenance_and_dirty_is_a_note() -> None:
    report = precheck(_policy(EMAIL_ID), replace(PLAN, commit=None))
    assert _status(report)["provenance"] == "fail"
    assert "git init" in report.failures[0].fix
    dirty = precheck(_policy(EMAIL_ID), replace(PLAN, dirty=True))
    assert dirty.passed and "uncommitted changes" in dirty.notes[0]
    relaxed = precheck(_policy(EMAIL_ID, "attestations:\n  provenance: {commitPresent: false}\n"),
                       replace(PLAN, commit=None))
    assert relaxed.passed


def test_identity_issuer_subject_and_github_claims() -> None:
    assert not precheck(_policy(EMAIL_ID), replace(PLAN, signer=replace(EMAIL, issuer="http://other"))).passed
    wrong = precheck(_policy(f"  - {{issuer: '{ISSUER}', subject: ops@example.com}}\n"), PLAN)
    assert [v.rule for v in wrong.failures] == ["identity"]
    assert "subject 'ops@example.com', not dev@sccheck.local" in wrong.failures[0].found
    assert "sccheck policy init --identity 'dev@sccheck.local' --issuer 'http://127.0.0.1:5556'" \
        in wrong.failures[0].fix
    gh = signer_from_claims({"iss": "https://token.actions.githubusercontent.com", "sub": "repo:o/r:ref:x",
                             "job_workflow_ref": "o/r/.github/workflows/build-and-sign.yml@refs/tags/v1.2.0",
                             "repository": "o/r", "ref": "refs/tags/v1.2.0", "event_name": "push"}, "gha")
    assert gh.subjects[0] == "https://github.com/o/r/.github/workflows/build-and-sign.yml@refs/tags/v1.2.0"
    assert gh.github == {"repository": "o/r", "workflowRef": "o/r/.github/workflows/build-and-sign.yml"
                         "@refs/tags/v1.2.0", "ref": "refs/tags/v1.2.0", "trigger": "push"}
    default = parse_policy((PROJECT_ROOT / "policies" / "default.yaml").read_bytes(), "default.yaml")
    org = default.identities.children[0]
    assert org.subject.regex
    mine = replace(PLAN, signer=replace(gh, subjects=(gh.subjects[0].replace("o/r", "YOUR-ORG/r"),)))
    assert _status(precheck(default, mine))["identity"] == "pass"
    on_branch = replace(mine, signer=replace(mine.signer, github={**gh.github, "ref": "refs/heads/main"}))
    failed = precheck(default, on_branch).failures[0]
    assert "GitHub claim ref" in failed.found
    local = precheck(default, PLAN, default_policy=True).failures[0]
    assert "the default policy (policies/default.yaml) expects the GitHub Actions issuer" in local.found


def test_key_identity_compares_the_public_key() -> None:
    def pem(key: ec.EllipticCurvePrivateKey) -> str:
        return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    mine, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    body = "".join(f"      {line}\n" for line in pem(mine).splitlines())
    policy = _policy(f"  - publicKey: |\n{body}")
    signer = Signer("key", "cosign.key", public_key_pem=pem(mine))
    assert precheck(policy, replace(PLAN, signer=signer)).passed
    refused = precheck(policy, replace(PLAN, signer=replace(signer, public_key_pem=pem(other))))
    assert "does not list" in refused.failures[0].found
    assert not precheck(policy, PLAN).passed            # keyless signer, key-only policy


def test_predicates_the_steps_will_not_make_and_platforms() -> None:
    policy = _policy(EMAIL_ID, "attestations:\n  vulnerabilities: {}\n  tests: {}\n"
                               "platforms: [linux/arm64]\n")
    report = precheck(policy, replace(PLAN, predicate_types=planned_predicates(("vet",))))
    assert _status(report) == {"identity": "pass", "vulnerabilities": "fail", "tests": "later",
                               "platforms": "fail"}
    assert "check.only must include vuln" in report.failures[0].fix
    assert precheck(policy, replace(PLAN, platforms=("linux/amd64", "linux/arm64"))).passed


def test_refusal_is_exit_1_with_the_rule_table_and_json() -> None:
    report = precheck(_policy(EMAIL_ID), replace(PLAN, commit=None))
    err = PolicyCannotPass(report, "p.yaml")
    assert err.exit_code == 1
    assert err.message == ("the policy t cannot pass for this run (provenance): nothing was built, "
                           "pushed or signed")
    text = err.diagnostics()
    assert "provenance       fail  the source is not in a git checkout" in text
    assert err.to_dict()["precheck"]["verdicts"][0]["rule"] == "identity"


def test_forecast_judges_the_predicates_with_verify_rules() -> None:
    from supplychain.pipeline.precheck import forecast

    policy = _policy(EMAIL_ID, "attestations:\n  vulnerabilities:\n    maxSeverity: medium\n"
                               "    allow: [{id: GO-2000-0002, reason: not reachable,"
                               " expires: 2999-01-01}]\n"
                               "  tests: {}\n")
    vuln = {"scanner": {"result": {"vulnerabilities": [
        {"id": "GO-2000-0001", "severity": "high", "module": "ex.com/m"},
        {"id": "GO-2000-0002", "severity": "critical", "module": "ex.com/m"},
        {"id": "GO-2000-0003", "severity": "medium", "module": "ex.com/m"}]}},
        "metadata": {"scanFinishedOn": "2026-12-01T00:00:00Z"}}
    tests = {"result": "FAILED", "failedTests": ["printf main.go:8:20"]}
    digest = "sha256:" + "1" * 64
    report = forecast(policy, [("https://cosign.sigstore.dev/attestation/vuln/v1", vuln),
                               ("https://in-toto.io/attestation/test-result/v0.1", tests)],
                      digest, "linux/amd64")
    assert [(v.rule, v.status) for v in report.verdicts] == [("vulnerabilities", "fail"), ("tests", "fail")]
    assert report.verdicts[0].found == "GO-2000-0001 (high) in ex.com/m is above medium and not allowlisted"
    assert "1 failed test(s): printf main.go:8:20" in report.verdicts[1].found
    assert "not signed yet" not in report.verdicts[0].found
    ok = forecast(policy, [("https://cosign.sigstore.dev/attestation/vuln/v1",
                            {**vuln, "scanner": {"result": {"vulnerabilities": []}}}),
                           ("https://in-toto.io/attestation/test-result/v0.1",
                            {"result": "PASSED", "failedTests": []})], digest, "linux/amd64")
    assert ok.passed


def test_planned_types_are_the_evidence_table_rows_a_run_makes() -> None:
    from supplychain.attest import vocabulary as v
    from supplychain.pipeline.run import EVIDENCE

    everything = planned_predicates(())
    assert everything == {v.COSIGN_SIGN, *(spec.predicate_type for spec in EVIDENCE)}
    assert v.OPENVEX in everything   # attested per platform when the vulnerability scan runs
    vet_only = planned_predicates(("vet",))
    assert v.COSIGN_VULN not in vet_only and v.OPENVEX not in vet_only and v.TEST_RESULT in vet_only
    assert v.TEST_RESULT not in planned_predicates(("vuln",))
