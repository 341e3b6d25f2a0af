"""`verify` against the real dev-stack (Fulcio, CT log, Rekor v2, TSA) and real registries.

Each bad input of issue 8 is crafted with the stack's real keys and must be refused with a
specific message."""

# ruff: noqa: E501
from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest

from supplychain.image.descriptor import Descriptor
from supplychain.policy import model as m
from supplychain.policy import parse_policy
from supplychain.policy.evaluate import FAIL, NO_EVIDENCE, PASS, PolicyReport
from supplychain.signing.api import attest_image, sign_image
from supplychain.stores import open_store
from supplychain.verify import verify_image
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry
from tests.policy.crafting import PROVENANCE, SBOM, attach, edit_bundle, keyless_bundle
from tests.signing.images import push_tiny_image, push_tiny_index

pytestmark = pytest.mark.sigstore
_n = itertools.count()


def policy_for(stack: DevStack, extra: str = "signature: {}\n", subject: str | None = None,
               issuer: str | None = None) -> m.Policy:
    subject_line = subject if subject is not None else f"'{stack.identity}'"
    text = textwrap.dedent(f"""\
        apiVersion: sccheck.dev/v1
        kind: Policy
        name: test
        identities:
          - issuer: '{issuer or stack.issuer}'
            subject: {subject_line}
        """) + extra
    return parse_policy(text.encode())


def repo(reg: Registry) -> str:
    return reg.ref(f"gate/t{next(_n)}")


def by_rule(report: PolicyReport) -> dict[str, object]:
    return {r.rule: r for r in report.results}


def verify(ref: str, policy: m.Policy, stack: DevStack) -> PolicyReport:
    return verify_image(ref, policy, trust_config=str(stack.trust_config))


def test_signed_and_attested_index_passes(sigstore_stack: DevStack, any_registry: Registry) -> None:
    ref = repo(any_registry)
    index, children = push_tiny_index(open_store(ref + ":v1"), "v1")
    token = sigstore_stack.mint_token()
    sign_image(ref + ":v1", trust_config=str(sigstore_stack.trust_config), identity_token=token)
    attest_image(ref + ":v1", m.PREDICATE_SLSA, PROVENANCE, trust_config=str(sigstore_stack.trust_config),
                 identity_token=sigstore_stack.mint_token())
    attest_image(ref + ":v1", m.PREDICATE_SBOM, SBOM, trust_config=str(sigstore_stack.trust_config),
                 identity_token=sigstore_stack.mint_token())
    policy = policy_for(sigstore_stack, "signature: {}\nattestations:\n  provenance:\n    builderId: https://sccheck.dev/builder/v1\n"
                        "    sourceRepository: https://github.com/sccheck-dev/hello\n  sbom: {}\nplatforms: [linux/amd64, linux/arm64]\n")
    report = verify(ref + ":v1", policy, sigstore_stack)
    assert report.digest == index.digest
    assert [(r.rule, r.status) for r in report.results] == [
        ("signature", PASS), ("provenance", PASS), ("sbom", PASS), ("platforms", PASS)], report.to_dict()
    assert report.rejected == ()
    signers = {s.signer.subject for s in report.statements}
    assert signers == {sigstore_stack.identity}
    assert {c.digest for c in children} <= {d for s in report.statements for d in s.subjects}


def test_unsigned_image_is_no_evidence(sigstore_stack: DevStack, registry: Registry) -> None:
    ref = repo(registry)
    push_tiny_image(open_store(ref + ":v1"), "v1")
    r = by_rule(verify(ref + ":v1", policy_for(sigstore_stack), sigstore_stack))["signature"]
    assert r.status == NO_EVIDENCE and r.found == "no signature found"


def test_index_whose_child_is_unsigned(sigstore_stack: DevStack, referrers_registry: Registry) -> None:
    ref = repo(referrers_registry)
    store = open_store(ref + ":v1")
    index, children = push_tiny_index(store, "v1")
    # Signed for the index only: the statement names the index, not its platforms.
    bundle = keyless_bundle(sigstore_stack, [index.digest], m.PREDICATE_SIGNATURE)
    attach(store, index, bundle, m.PREDICATE_SIGNATURE)
    report = verify(ref + ":v1", policy_for(sigstore_stack), sigstore_stack)
    r = by_rule(report)["signature"]
    assert r.status == FAIL
    assert r.details == (f"no verified signature for linux/amd64 {children[0].digest}",
                         f"no verified signature for linux/arm64 {children[1].digest}")
    assert not report.passed


def _two_images(reg: Registry) -> tuple[str, Descriptor, Descriptor]:
    ref = repo(reg)
    store = open_store(ref)
    a = push_tiny_image(store, "a", text="image-a")
    b = push_tiny_image(store, "b", text="image-b")
    return ref, a, b


def test_signature_made_for_another_image(sigstore_stack: DevStack, any_registry: Registry) -> None:
    ref, a, b = _two_images(any_registry)
    bundle = keyless_bundle(sigstore_stack, [a.digest], m.PREDICATE_SIGNATURE)
    attach(open_store(ref), b, bundle, m.PREDICATE_SIGNATURE)   # A's signature hung on B
    report = verify(ref + ":b", policy_for(sigstore_stack), sigstore_stack)
    r = by_rule(report)["signature"]
    assert r.status == FAIL
    (rej,) = report.rejected
    assert rej.stage == "subject"
    assert rej.reason == f"the signature was made for another image: its statement subjects are ['{a.digest}'], not {b.digest}"


def test_attestation_whose_subject_is_another_digest(sigstore_stack: DevStack, registry: Registry) -> None:
    ref, a, b = _two_images(registry)
    bundle = keyless_bundle(sigstore_stack, [a.digest], m.PREDICATE_SLSA, PROVENANCE)
    attach(open_store(ref), b, bundle, m.PREDICATE_SLSA)
    report = verify(ref + ":b", policy_for(sigstore_stack, "attestations:\n  provenance: {}\n"), sigstore_stack)
    r = by_rule(report)["provenance"]
    assert r.status == FAIL and r.found == "1 bundle(s) found, none verified"
    assert "the attestation was made for another image" in report.rejected[0].reason


def test_statement_with_a_swapped_payload_type(sigstore_stack: DevStack, referrers_registry: Registry,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from sigstore import dsse

    ref = repo(referrers_registry)
    store = open_store(ref)
    img = push_tiny_image(store, "v1")
    monkeypatch.setattr(dsse.Envelope, "_TYPE", "application/json")   # validly signed, wrong type
    bundle = keyless_bundle(sigstore_stack, [img.digest], m.PREDICATE_SIGNATURE)
    monkeypatch.undo()
    attach(store, img, bundle, m.PREDICATE_SIGNATURE)
    report = verify(ref + ":v1", policy_for(sigstore_stack), sigstore_stack)
    (rej,) = report.rejected
    assert (rej.stage, rej.reason) == ("statement", "DSSE payloadType is 'application/json', expected 'application/vnd.in-toto+json'")
    assert by_rule(report)["signature"].status == FAIL


def test_right_subject_but_another_issuer(sigstore_stack: DevStack, registry: Registry) -> None:
    ref = repo(registry)
    store = open_store(ref)
    img = push_tiny_image(store, "v1")
    attach(store, img, keyless_bundle(sigstore_stack, [img.digest], m.PREDICATE_SIGNATURE), m.PREDICATE_SIGNATURE)
    # Same e-mail subject, but the policy trusts it only from the GitHub-shaped issuer.
    policy = policy_for(sigstore_stack, issuer=sigstore_stack.github_issuer)
    report = verify(ref + ":v1", policy, sigstore_stack)
    (rej,) = report.rejected
    assert rej.stage == "identity"
    assert f"alternative 1: issuer is '{sigstore_stack.issuer}', not '{sigstore_stack.github_issuer}'" in rej.reason
    assert by_rule(report)["signature"].status == FAIL


def test_subject_that_only_matches_an_unanchored_pattern(sigstore_stack: DevStack, registry: Registry) -> None:
    ref = repo(registry)
    store = open_store(ref)
    img = push_tiny_image(store, "v1")
    evil = "evil-release@example.com.attacker.test"
    token = sigstore_stack.mint_token(email=evil)
    attach(store, img, keyless_bundle(sigstore_stack, [img.digest], m.PREDICATE_SIGNATURE, token=token),
           m.PREDICATE_SIGNATURE)
    policy = policy_for(sigstore_stack, subject=r"{regexp: 'release@example\.com'}")
    report = verify(ref + ":v1", policy, sigstore_stack)
    (rej,) = report.rejected
    assert rej.stage == "identity"
    assert f"subject ['{evil}'] does not match /release@example\\.com/ (matched in full)" in rej.reason
    ok = policy_for(sigstore_stack, subject=r"{regexp: 'evil-release@example\.com\..*'}")
    assert verify(ref + ":v1", ok, sigstore_stack).passed


def test_expired_certificate_without_trusted_timestamp(sigstore_stack: DevStack, registry: Registry) -> None:
    ref = repo(registry)
    store = open_store(ref)
    img = push_tiny_image(store, "v1")
    bundle = keyless_bundle(sigstore_stack, [img.digest], m.PREDICATE_SIGNATURE)
    stripped = edit_bundle(bundle, lambda d: d["verificationMaterial"].pop("timestampVerificationData"))
    attach(store, img, stripped, m.PREDICATE_SIGNATURE)
    report = verify(ref + ":v1", policy_for(sigstore_stack), sigstore_stack)
    (rej,) = report.rejected
    assert rej.stage == "bundle"
    assert rej.reason.startswith("no trusted time: the bundle carries no verified timestamp, so its short-lived "
                                 "certificate cannot be shown valid at signing time")


def test_bundle_whose_log_entry_is_for_another_artifact(sigstore_stack: DevStack, registry: Registry) -> None:
    ref, a, b = _two_images(registry)
    bundle_a = keyless_bundle(sigstore_stack, [a.digest], m.PREDICATE_SIGNATURE)
    bundle_b = keyless_bundle(sigstore_stack, [b.digest], m.PREDICATE_SIGNATURE)
    import json
    entries_a = json.loads(bundle_a)["verificationMaterial"]["tlogEntries"]
    swapped = edit_bundle(bundle_b, lambda d: d["verificationMaterial"].__setitem__("tlogEntries", entries_a))
    attach(open_store(ref), b, swapped, m.PREDICATE_SIGNATURE)
    report = verify(ref + ":b", policy_for(sigstore_stack), sigstore_stack)
    (rej,) = report.rejected
    assert rej.stage == "bundle"
    assert rej.reason.startswith("the transparency log entry is for another artifact")


def test_github_workflow_identity_and_claims(sigstore_stack: DevStack, referrers_registry: Registry) -> None:
    ref = repo(referrers_registry)
    store = open_store(ref)
    img = push_tiny_image(store, "v1")
    token = sigstore_stack.mint_token(github=True, ref="refs/tags/v1.2.3", event_name="push")
    attach(store, img, keyless_bundle(sigstore_stack, [img.digest], m.PREDICATE_SIGNATURE, token=token),
           m.PREDICATE_SIGNATURE)
    identity = sigstore_stack.github_workflow_identity(ref="refs/tags/v1.2.3")

    def gh(claims: str) -> m.Policy:
        return policy_for(sigstore_stack, issuer=sigstore_stack.github_issuer, subject=f"'{identity}'",
                          extra=f"    github:\n{claims}signature: {{}}\n")

    good = gh("      repository: sccheck-dev/hello\n      ref: {regexp: 'refs/tags/v[0-9.]+'}\n      trigger: push\n"
              "      workflowRef: sccheck-dev/hello/.github/workflows/release.yml@refs/tags/v1.2.3\n")
    report = verify(ref + ":v1", good, sigstore_stack)
    assert report.passed, report.to_dict()
    (stmt,) = report.statements
    assert stmt.signer.claims["repository"] == "sccheck-dev/hello"
    bad = gh("      repository: sccheck-dev/hello\n      trigger: workflow_dispatch\n")
    report = verify(ref + ":v1", bad, sigstore_stack)
    assert "GitHub claim trigger is 'push', expected 'workflow_dispatch'" in report.rejected[0].reason


def test_key_signed_bundle_with_log_entry(sigstore_stack: DevStack, registry: Registry, tmp_path: Path) -> None:
    from supplychain.signing.keys import generate_key_pair

    ref = repo(registry)
    push_tiny_image(open_store(ref), "v1")
    generate_key_pair(tmp_path / "cosign", "pw")
    pub = (tmp_path / "cosign.pub").read_text()
    sign_image(ref + ":v1", key=str(tmp_path / "cosign.key"), key_password="pw",
               rekor_url=sigstore_stack.urls["rekor"])
    key_policy = "apiVersion: sccheck.dev/v1\nkind: Policy\nname: k\nidentities:\n  - name: release\n    publicKey: |\n" + \
        textwrap.indent(pub, "      ") + "signature: {}\n"
    report = verify_image(ref + ":v1", parse_policy(key_policy.encode()), trust_config=str(sigstore_stack.trust_config))
    assert report.passed, report.to_dict()
    assert report.statements[0].signer.describe() == "key 'release'"
    # The same image signed without a log entry: refused unless the policy says Unsafe...
    img2 = push_tiny_image(open_store(ref), "v2", text="two")
    assert img2.digest
    sign_image(ref + ":v2", key=str(tmp_path / "cosign.key"), key_password="pw")
    report = verify_image(ref + ":v2", parse_policy(key_policy.encode()), trust_config=str(sigstore_stack.trust_config))
    assert report.rejected[0].reason == ("the key-signed bundle has no transparency log entry "
                                         "(the policy would need UnsafeNoTransparencyLog: true)")
    unsafe = key_policy.replace("    publicKey: |", "    UnsafeNoTransparencyLog: true\n    publicKey: |")
    assert verify_image(ref + ":v2", parse_policy(unsafe.encode())).passed


def test_registry_returning_a_manifest_not_matching_its_digest(sigstore_stack: DevStack, registry: Registry) -> None:
    from supplychain.errors import VerificationFailed
    from tests.policy.tamper import tampering_proxy

    ref = repo(registry)
    img = push_tiny_image(open_store(ref), "v1")
    repo_path = ref.split("/", 1)[1]
    with tampering_proxy(registry.url) as host, pytest.raises(VerificationFailed) as info:
        verify(f"{host}/{repo_path}@{img.digest}", policy_for(sigstore_stack), sigstore_stack)
    assert info.value.message == f"{host}/{repo_path} returned a manifest that does not match its digest"
    assert info.value.expected == img.digest
    assert info.value.exit_code == 1


def test_cli_verify_table_json_and_exit_codes(sigstore_stack: DevStack, registry: Registry, sccheck, tmp_path: Path) -> None:
    ref = repo(registry)
    push_tiny_image(open_store(ref), "v1")
    sign_image(ref + ":v1", trust_config=str(sigstore_stack.trust_config), identity_token=sigstore_stack.mint_token())
    pol = tmp_path / "p.yaml"
    pol.write_text(f"apiVersion: sccheck.dev/v1\nkind: Policy\nname: cli\nidentities:\n  - issuer: '{sigstore_stack.issuer}'\n"
                   f"    subject: '{sigstore_stack.identity}'\nsignature: {{}}\nattestations:\n  tests: {{}}\n")
    env = {"SCCHECK_TRUST_CONFIG": str(sigstore_stack.trust_config)}
    out = sccheck("verify", ref + ":v1", "--policy", str(pol), env=env)
    assert out.returncode == 1, out.stderr
    assert "signature  PASS" in out.stdout
    assert "tests      NO EVIDENCE  expected: test results with every test passed" in out.stdout
    assert out.stdout.rstrip().endswith("FAILED: tests - fix the evidence or the policy, then verify again")
    js = sccheck("--json", "verify", ref + ":v1", "--policy", str(pol), env=env)
    doc = json.loads(js.stdout)
    assert js.returncode == 1 and doc["ok"] is False
    assert [(r["rule"], r["status"]) for r in doc["results"]] == [("signature", "pass"), ("tests", "no-evidence")]
    pol.write_text(pol.read_text().replace("attestations:\n  tests: {}\n", ""))
    ok = sccheck("--json", "verify", ref + ":v1", "--policy", str(pol), env=env)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    bad = sccheck("verify", ref + ":v1", "--policy", str(Path(__file__).parent / "assets/policy_unknown_field.yaml"))
    assert bad.returncode == 2
    assert "unknown field 'builderID' at $.attestations.provenance" in bad.stderr
