"""The policy loader is strict: every bad document fails with a message naming its place."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from supplychain.errors import PolicyError
from supplychain.policy import load_policy, parse_policy
from supplychain.policy import model as m
from supplychain.policy.loader import policy_schema

ASSETS = Path(__file__).parent / "assets"
ROOT = Path(__file__).resolve().parents[2]


def test_full_release_gate_builds_every_rule() -> None:
    p = load_policy(ASSETS / "policy_full_release_gate.yaml")
    assert p.name == "release-gate"
    kinds = [type(r).__name__ for r in p.requirements.children]
    assert kinds == ["SignatureRule", "ProvenanceRule", "SbomRule", "VulnerabilityRule", "TestResultRule",
                     "HardenRule", "BaseImageRule", "PlatformsRule"]
    first, second = p.identities.children
    assert isinstance(first, m.KeylessIdentity) and first.subject.regex
    assert first.github is not None and first.github.trigger == m.Pattern("push")
    assert second == m.KeylessIdentity("https://accounts.example.com", m.Pattern("release@example.com"))
    vuln = p.rule(m.VulnerabilityRule)
    assert isinstance(vuln, m.VulnerabilityRule)
    assert vuln.max_age == dt.timedelta(days=7)
    assert vuln.allow == (m.AllowedVulnerability("GO-2024-0001", "not reachable from our code",
                                                 dt.date(2027, 1, 31)),)
    raw = (ASSETS / "policy_full_release_gate.yaml").read_bytes()
    import hashlib
    assert p.source_digest == "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(("asset", "message", "path"), [
    ("policy_unknown_field.yaml", "unknown field 'builderID' at $.attestations.provenance",
     "$.attestations.provenance"),
    ("policy_regex_does_not_compile.yaml", "is not valid RE2: missing ): release@(example",
     "$.identities[0].subject"),
    # Valid in Python's re, refused by RE2 and so by every cluster engine: refused at load.
    ("policy_regex_lookahead.yaml", "is not valid RE2: negative lookahead (?!...) is not RE2 at "
     "$.identities[0].subject", "$.identities[0].subject"),
    ("policy_regex_backreference.yaml", "is not valid RE2: backreference \\1 is not RE2 at "
     "$.attestations.provenance.builderId", "$.attestations.provenance.builderId"),
    ("policy_no_identity.yaml", "invalid value at $.identities", "$.identities"),
    ("policy_allowlist_bad_date.yaml", "'2027-02-30' is not a real date",
     "$.attestations.vulnerabilities.allow[0].expires"),
    ("policy_allowlist_without_reason.yaml", "'reason' is a required property",
     "$.attestations.vulnerabilities.allow[0]"),
    ("policy_bad_public_key.yaml", "public key at $.identities[0].publicKey does not parse",
     "$.identities[0].publicKey"),
])
def test_bad_policies_name_their_place(asset: str, message: str, path: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(ASSETS / asset)
    assert message in info.value.message
    assert info.value.facts["path"] == path
    assert info.value.exit_code == 2


def test_identity_without_issuer_is_refused() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(ASSETS / "policy_identity_without_issuer.yaml")
    assert "'issuer' is a required property" in info.value.message
    assert info.value.facts["path"] == "$.identities[0]"


@pytest.mark.parametrize(("asset", "message"), [
    ("policy_requires_nothing.yaml", "the policy requires nothing"),
    ("policy_duplicate_key.yaml", "duplicate key 'subject' (line 7)"),
    ("policy_yaml_alias.yaml", "YAML aliases are not supported"),
    ("policy_python_tag.yaml", "is not valid YAML"),
])
def test_unsupported_constructs_are_errors(asset: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(ASSETS / asset)
    assert message in info.value.message


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy(tmp_path / "nope.yaml")


def test_regex_is_matched_in_full() -> None:
    pat = m.Pattern(r"https://github\.com/acme/.*", regex=True)
    assert pat.matches("https://github.com/acme/hello")
    assert not pat.matches("https://evil.example/?https://github.com/acme/hello")
    unanchored = m.Pattern("release@example.com", regex=True)
    assert not unanchored.matches("xrelease@example.com.evil")
    assert not m.Pattern("a").matches(None)


def test_regex_reads_as_re2_not_python() -> None:
    # RE2 (and Go) read \d as ASCII digits and `.` without newlines; Python's str patterns do not.
    assert not m.Pattern(r"v\d+", regex=True).matches("v\u0663")
    assert not m.Pattern("a.b", regex=True).matches("a\nb")
    assert m.Pattern("a.b", regex=True).matches("a-b")


def test_empty_compositions_are_errors() -> None:
    with pytest.raises(PolicyError, match="AllOf needs at least one rule"):
        m.AllOf(())
    with pytest.raises(PolicyError, match="AnyOf needs at least one alternative"):
        m.AnyOf(())


def test_shipped_policies_validate_with_schema_and_model() -> None:
    files = sorted((ROOT / "policies").rglob("*.yaml"))
    assert len(files) >= 5
    schema = policy_schema()
    for f in files:
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)
        load_policy(f)
    assert json.loads((ROOT / "policies/schema.json").read_text()) == schema


def test_too_large_policy_is_refused() -> None:
    with pytest.raises(PolicyError, match="too large"):
        parse_policy(b"#" * (300 * 1024))
