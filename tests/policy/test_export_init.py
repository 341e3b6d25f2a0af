"""`policy init` (valid by construction) and the CLI round trip init -> export."""

# ruff: noqa: E501
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from supplychain.errors import UsageError
from supplychain.policy import load_policy, parse_policy
from supplychain.policy import model as m
from supplychain.policy.init import init_policy


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
    exp = sccheck("policy", "export", "--policy", str(tmp_path / "p.yaml"), "--format", "kyverno",
                  "--image", "registry.example.com/prod/*")
    assert exp.returncode == 0, exp.stderr
    doc = yaml.safe_load(exp.stdout)
    assert doc["kind"] == "ImageValidatingPolicy"
    assert doc["spec"]["matchImageReferences"] == [{"glob": "registry.example.com/prod/*"}]
    # policy-controller judges an index by the index: the starter policy's every-platform
    # signature cannot be enforced as written, so the export is refused, naming the rule.
    refused = sccheck("policy", "export", "--policy", str(tmp_path / "p.yaml"), "--format", "policy-controller")
    assert refused.returncode == 2 and "rule(s) signature" in refused.stderr, refused.stderr
    partial = sccheck("policy", "export", "--policy", str(tmp_path / "p.yaml"), "--format", "policy-controller",
                      "--allow-partial")
    assert partial.returncode == 0, partial.stderr
    assert "warning: policy-controller cannot enforce rule 'signature'" in partial.stderr
    assert partial.stdout.startswith("# PARTIAL: policy-controller cannot enforce rule 'signature'")
    assert yaml.safe_load(partial.stdout)["kind"] == "ClusterImagePolicy"
    bad = sccheck("policy", "export", "--policy", str(tmp_path / "p.yaml"), "--format", "opa")
    assert bad.returncode == 2
