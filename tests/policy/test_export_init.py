"""Export to Kyverno / policy-controller (structure) and `policy init` (valid by construction)."""

# ruff: noqa: E501
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from supplychain.errors import UsageError
from supplychain.policy import load_policy, parse_policy
from supplychain.policy import model as m
from supplychain.policy.export import ExportOptions, export_policy
from supplychain.policy.init import init_policy

ASSETS = Path(__file__).parent / "assets"
OPTS = ExportOptions(images=("registry.example.com/prod/*",), rekor_url="http://127.0.0.1:3003",
                     ctlog_url="http://127.0.0.1:6962", fulcio_url="http://127.0.0.1:5555")


def test_kyverno_cluster_policy_structure() -> None:
    policy = load_policy(ASSETS / "policy_full_release_gate.yaml")
    result = export_policy(policy, "kyverno", OPTS)
    doc = yaml.safe_load(result.to_yaml())
    assert doc["apiVersion"] == "kyverno.io/v1" and doc["kind"] == "ClusterPolicy"
    assert doc["metadata"]["name"] == "sccheck-release-gate"
    assert doc["metadata"]["annotations"]["sccheck.dev/policy-digest"] == policy.source_digest
    (rule,) = doc["spec"]["rules"]
    (verify,) = rule["verifyImages"]
    assert verify["imageReferences"] == ["registry.example.com/prod/*"]
    assert verify["required"] is True and verify["verifyDigest"] is True
    entries = verify["attestors"][0]["entries"]
    assert entries[0]["keyless"] == {
        "issuer": "https://token.actions.githubusercontent.com",
        "subjectRegExp": r"^(?:https://github\.com/acme/hello/\.github/workflows/release\.yml@refs/tags/v.*)$",
        "additionalExtensions": {"githubWorkflowRepository": "acme/hello", "githubWorkflowTrigger": "push"},
        "rekor": {"url": "http://127.0.0.1:3003"}, "ctlog": {"url": "http://127.0.0.1:6962"}}
    assert entries[1]["keyless"]["subject"] == "release@example.com"
    types = [a["type"] for a in verify["attestations"]]
    assert types == [m.PREDICATE_SLSA, m.PREDICATE_SBOM, m.PREDICATE_VULN, m.PREDICATE_TEST, m.PREDICATE_HARDEN]
    prov = verify["attestations"][0]["conditions"][0]["all"]
    assert prov[0] == {"key": "{{ runDetails.builder.id }}", "operator": "Equals",
                       "value": "https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.0.0"}
    vuln = verify["attestations"][2]["conditions"][0]["all"][0]
    assert vuln["key"] == ('{{ scanner.result.findings[?contains(`["high", "critical"]`, severity) && '
                           '!contains(`["GO-2024-0001"]`, id)] | length(@) }}')
    assert vuln["value"] == 0
    assert any("ref=" in n and "not expressible" in n for n in result.notes)
    assert result.to_yaml().startswith("# NOTE: ")


def test_policy_controller_structure() -> None:
    policy = load_policy(ASSETS / "policy_full_release_gate.yaml")
    doc = yaml.safe_load(export_policy(policy, "policy-controller", OPTS).to_yaml())
    assert doc["apiVersion"] == "policy.sigstore.dev/v1beta1" and doc["kind"] == "ClusterImagePolicy"
    assert doc["spec"]["images"] == [{"glob": "registry.example.com/prod/*"}]
    first, second = doc["spec"]["authorities"]
    assert first["keyless"]["identities"] == [{
        "issuer": "https://token.actions.githubusercontent.com",
        "subjectRegExp": r"^(?:https://github\.com/acme/hello/\.github/workflows/release\.yml@refs/tags/v.*)$"}]
    assert first["keyless"]["url"] == "http://127.0.0.1:5555"
    assert second["keyless"]["identities"] == [{"issuer": "https://accounts.example.com",
                                                "subject": "release@example.com"}]
    atts = {a["name"]: a for a in first["attestations"]}
    assert atts["provenance"]["predicateType"] == m.PREDICATE_SLSA
    rego = atts["provenance"]["policy"]["data"]
    assert atts["provenance"]["policy"]["type"] == "rego"
    assert 'input.predicate.runDetails.builder.id == "https://github.com/acme/hello/' in rego
    assert "isCompliant if {" in rego
    assert "policy" not in atts["sbom"]
    assert atts["tests"]["policy"]["data"].count('input.predicate.result in {"PASSED", "WARNED"}') == 1


def test_key_identity_exports() -> None:
    policy = load_policy(Path(__file__).resolve().parents[2] / "policies/examples/key-based.yaml")
    ky = export_policy(policy, "kyverno").document
    keys = ky["spec"]["rules"][0]["verifyImages"][0]["attestors"][0]["entries"][0]["keys"]
    assert keys["publicKeys"].startswith("-----BEGIN PUBLIC KEY-----")
    pc = export_policy(policy, "policy-controller").document
    assert pc["spec"]["authorities"][0]["key"]["hashAlgorithm"] == "sha256"
    assert pc["spec"]["images"] == [{"glob": "**"}]


def test_unknown_format() -> None:
    policy = load_policy(ASSETS / "policy_full_release_gate.yaml")
    with pytest.raises(UsageError, match="unknown export format 'opa'"):
        export_policy(policy, "opa")


def test_init_github_identity_pins_repository_and_ref() -> None:
    ident = "https://github.com/acme/hello/.github/workflows/release.yml@refs/heads/main"
    text = init_policy(ident, "https://token.actions.githubusercontent.com")
    policy = parse_policy(text.encode())
    (identity,) = policy.identities.children
    assert isinstance(identity, m.KeylessIdentity)
    assert identity.subject == m.Pattern(ident)
    assert identity.github == m.GitHubClaims(repository=m.Pattern("acme/hello"), ref=m.Pattern("refs/heads/main"))
    assert [r.name for r in policy.requirements.children] == ["signature", "provenance", "sbom", "vulnerabilities"]


def test_init_email_identity_quotes_safely() -> None:
    text = init_policy("o'brien@example.com", "https://accounts.example.com", name="mine")
    policy = parse_policy(text.encode())
    assert policy.name == "mine"
    (identity,) = policy.identities.children
    assert isinstance(identity, m.KeylessIdentity) and identity.subject.value == "o'brien@example.com"
    assert re.search(r"^name: mine$", text, re.M)
    with pytest.raises(UsageError, match="--issuer must be the OIDC issuer URL"):
        init_policy("a@example.com", "accounts.example.com")


def test_cli_policy_init_and_export(sccheck, tmp_path: Path) -> None:
    out = sccheck("policy", "init", "--identity", "release@example.com", "--issuer", "https://accounts.example.com")
    assert out.returncode == 0, out.stderr
    (tmp_path / "p.yaml").write_text(out.stdout)
    assert load_policy(tmp_path / "p.yaml").name == "starter"
    exp = sccheck("policy", "export", "--policy", str(tmp_path / "p.yaml"), "--format", "policy-controller",
                  "--image", "registry.example.com/prod/**")
    assert exp.returncode == 0, exp.stderr
    doc = yaml.safe_load(exp.stdout)
    assert doc["kind"] == "ClusterImagePolicy"
    assert doc["spec"]["images"] == [{"glob": "registry.example.com/prod/**"}]
    bad = sccheck("policy", "export", "--policy", str(tmp_path / "p.yaml"), "--format", "opa")
    assert bad.returncode == 2
