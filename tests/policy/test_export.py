"""`sccheck policy export`: each format's structure, its validity against the engines' own CRD
schemas (from their module sources), and the refusal of what a target cannot enforce."""

# ruff: noqa: E501
from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from supplychain.errors import UsageError
from supplychain.policy import load_policy, parse_policy
from supplychain.policy import model as m
from supplychain.policy.export import (
    ExportOptions,
    ExportRefused,
    TufSource,
    export_policy,
    load_trust_material,
)
from tests.policy import crd

ASSETS = Path(__file__).parent / "assets"
ROOT = Path(__file__).resolve().parents[2]
KYVERNO = ("github.com/kyverno/kyverno", "v1.19.1")
POLICY_CONTROLLER = ("github.com/sigstore/policy-controller", "v0.13.1")
EXPORTABLE = """\
apiVersion: sccheck.dev/v1
kind: Policy
name: exportable
identities:
  - issuer: https://issuer.example.com
    subject: {regexp: 'release@example\\.com'}
  - issuer: https://other.example.com
    subject: ci@example.com
signature: {}
attestations:
  provenance: {builderId: https://sccheck.dev/builder/v1, commitPresent: true}
  sbom: {}
  vulnerabilities:
    maxSeverity: medium
    maxAge: 7d
    allow: [{id: GO-2026-0001, reason: unreachable, expires: "2027-03-31"}]
  tests: {}
  harden: {}
platforms: [linux/amd64, linux/arm64]
"""


def _cert(name: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "test"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    spki = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    return der, spki


@pytest.fixture(scope="module")
def trusted_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ca, _ = _cert("fulcio")
    tsa, _ = _cert("tsa")
    _, rekor = _cert("rekor")
    _, ctlog = _cert("ctlog")
    start = {"start": "2026-01-01T00:00:00Z"}

    def log(url: str, key: str) -> dict[str, Any]:
        return {"baseUrl": url, "hashAlgorithm": "SHA2_256", "logId": {"keyId": "AAAA"},
                "publicKey": {"rawBytes": key, "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": start}}

    def authority(name: str, url: str, der: str) -> dict[str, Any]:
        return {"subject": {"organization": "test", "commonName": name}, "uri": url,
                "certChain": {"certificates": [{"rawBytes": der}]}, "validFor": start}

    doc = {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
           "tlogs": [log("http://127.0.0.1:3003", rekor)], "ctlogs": [log("http://127.0.0.1:6962", ctlog)],
           "certificateAuthorities": [authority("fulcio", "http://127.0.0.1:5555", ca)],
           "timestampAuthorities": [authority("tsa", "http://127.0.0.1:3004", tsa)]}
    path = tmp_path_factory.mktemp("trust") / "trust_config.json"
    path.write_text(json.dumps({"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                                "trustedRoot": doc}))
    return path


def _opts(trusted_root: Path, **kw: Any) -> ExportOptions:
    return ExportOptions(images=("127.0.0.1:5000/prod/*",), trust=load_trust_material(trusted_root), **kw)


def test_kyverno_writes_an_image_validating_policy(trusted_root: Path) -> None:
    policy = parse_policy(EXPORTABLE.encode())
    tuf = TufSource("http://127.0.0.1:8088", b'{"signed": {}}')
    result = export_policy(policy, "kyverno", _opts(trusted_root, tuf=tuf))
    (doc,) = yaml.safe_load_all(result.to_yaml())
    assert result.gaps == ()
    assert (doc["apiVersion"], doc["kind"]) == ("policies.kyverno.io/v1", "ImageValidatingPolicy")
    spec = doc["spec"]
    assert spec["validationActions"] == ["Deny"] and spec["failurePolicy"] == "Fail"
    assert spec["matchImageReferences"] == [{"glob": "127.0.0.1:5000/prod/*"}]
    first, second = spec["attestors"]
    assert first["cosign"]["keyless"]["identities"] == [{"issuer": "https://issuer.example.com",
                                                          "subjectRegExp": r"^(?:release@example\.com)$"}]
    assert second["cosign"]["keyless"]["identities"] == [{"issuer": "https://other.example.com",
                                                           "subject": "ci@example.com"}]
    cosign = first["cosign"]
    assert json.loads(cosign["trustedRoot"]["value"])["tlogs"][0]["baseUrl"] == "http://127.0.0.1:3003"
    assert cosign["ctlog"]["url"] == "http://127.0.0.1:3003"
    assert cosign["ctlog"]["tsaCertChain"].startswith("-----BEGIN CERTIFICATE-----")
    assert cosign["tuf"] == {"mirror": "http://127.0.0.1:8088", "root": {"data": base64.b64encode(b'{"signed": {}}').decode()}}
    assert [(a["name"], a["intoto"]["type"]) for a in spec["attestations"]] == [
        ("signature", m.PREDICATE_SIGNATURE), ("provenance", m.PREDICATE_SLSA), ("sbom", m.PREDICATE_SBOM),
        ("vulnerabilities", m.PREDICATE_VULN), ("tests", m.PREDICATE_TEST), ("harden", m.PREDICATE_HARDEN)]
    fetch, *rules = spec["validations"]
    # Kyverno 1.19's image cache deadlocks on a new image after a cache hit: children first
    assert fetch["expression"].endswith(".size() >= 0")
    exprs = [v["expression"] for v in rules]
    assert len(exprs) == 7
    assert all(e.startswith("(images.containers + images.initContainers + images.ephemeralContainers).all(img,") for e in exprs)
    assert "[attestors.identity0, attestors.identity1]" in exprs[0]
    # every runnable child of an index on its own, by the one children rule
    assert "md.imageIndex.manifests.filter(c, has(c.mediaType)" in exprs[1]
    # the vulnerability list where sccheck's producer writes it, never a field it does not have
    assert "p.predicate.scanner.result.vulnerabilities.all(f," in exprs[3]
    assert "findings" not in exprs[3]
    assert 'time.now() < timestamp(allow[key])' in exprs[3] and '"GO-2026-0001": "2027-04-01T00:00:00Z"' in exprs[3]
    assert "duration('604800s')" in exprs[3]


def test_kyverno_export_is_valid_for_the_v1_19_crd(trusted_root: Path) -> None:
    schema = crd.crd_schema(*KYVERNO, "config/crds/policies.kyverno.io/policies.kyverno.io_imagevalidatingpolicies.yaml", "v1")
    doc = export_policy(parse_policy(EXPORTABLE.encode()), "kyverno", _opts(trusted_root)).document
    assert crd.problems(schema, doc) == []
    doc["spec"]["attestors"][0]["cosign"]["keyless"]["ctlog"] = {"url": "x"}     # the validator can fail
    assert crd.problems(schema, doc) == ["unknown field $.spec.attestors[0].cosign.keyless.ctlog"]


def test_legacy_cluster_policy_is_valid_for_the_crd(trusted_root: Path) -> None:
    schema = crd.crd_schema(*KYVERNO, "config/crds/kyverno/kyverno.io_clusterpolicies.yaml", "v1")
    for asset in (ASSETS / "policy_full_release_gate.yaml", *sorted((ROOT / "policies").rglob("*.yaml"))):
        result = export_policy(load_policy(asset), "kyverno-clusterpolicy", _opts(trusted_root, allow_partial=True))
        assert crd.problems(schema, result.document) == [], asset
        verify = result.document["spec"]["rules"][0]["verifyImages"][0]
        assert verify["type"] == "SigstoreBundle"
        for entry in verify["attestors"][0]["entries"]:
            assert "url" not in entry.get("keyless", {}).get("ctlog", {})


def test_legacy_vulnerability_condition_reads_the_producers_field(trusted_root: Path) -> None:
    result = export_policy(parse_policy(EXPORTABLE.encode()), "kyverno-clusterpolicy",
                           _opts(trusted_root, allow_partial=True))
    vuln = next(a for a in result.document["spec"]["rules"][0]["verifyImages"][0]["attestations"]
            if a["type"] == m.PREDICATE_VULN)
    key = vuln["conditions"][0]["all"][0]["key"]
    assert key.startswith("{{ scanner.result.vulnerabilities[?") and "findings" not in key
    assert any("allowlist expiry" in g for g in result.gaps)


def test_policy_controller_writes_trust_root_and_bundle_policy(trusted_root: Path) -> None:
    result = export_policy(parse_policy(EXPORTABLE.encode()), "policy-controller", _opts(trusted_root, allow_partial=True))
    trust, cip = yaml.safe_load_all(result.to_yaml())
    assert (trust["kind"], cip["kind"]) == ("TrustRoot", "ClusterImagePolicy")
    keys = trust["spec"]["sigstoreKeys"]
    assert base64.b64decode(keys["certificateAuthorities"][0]["certChain"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert keys["tLogs"][0] == {"baseURL": "http://127.0.0.1:3003", "hashAlgorithm": "sha256",
                                "publicKey": keys["tLogs"][0]["publicKey"]}
    assert keys["timestampAuthorities"][0]["uri"] == "http://127.0.0.1:3004"
    first = cip["spec"]["authorities"][0]
    assert first["signatureFormat"] == "bundle"
    assert first["keyless"]["trustRootRef"] == trust["metadata"]["name"] == cip["metadata"]["name"]
    assert first["keyless"]["identities"] == [{"issuer": "https://issuer.example.com",
                                               "subjectRegExp": r"^(?:release@example\.com)$"}]
    atts = {a["name"]: a for a in first["attestations"]}
    assert atts["signature"]["predicateType"] == m.PREDICATE_SIGNATURE
    rego = atts["vulnerabilities"]["policy"]["data"]
    assert 'input.predicate["scanner"]["result"]["vulnerabilities"]' in rego and "findings" not in rego
    assert "policy" not in atts["sbom"]


def test_policy_controller_export_is_valid_for_its_crds(trusted_root: Path) -> None:
    result = export_policy(parse_policy(EXPORTABLE.encode()), "policy-controller", _opts(trusted_root, allow_partial=True))
    trust, cip = result.documents
    cip_schema = crd.crd_schema(*POLICY_CONTROLLER, "config/300-clusterimagepolicy.yaml", "v1beta1")
    tr_schema = crd.crd_schema(*POLICY_CONTROLLER, "config/300-trustroot.yaml", "v1alpha1")
    assert crd.problems(cip_schema, cip) == []
    assert crd.problems(tr_schema, trust) == []


@pytest.mark.parametrize(("fmt", "rules"), [
    ("kyverno", ["identities", "provenance", "base-image"]),
    ("policy-controller", ["signature", "provenance", "sbom", "vulnerabilities", "tests", "harden", "base-image",
                           "platforms", "identities"]),
])
def test_what_a_target_cannot_enforce_is_refused_naming_the_rule(fmt: str, rules: list[str]) -> None:
    policy = load_policy(ASSETS / "policy_full_release_gate.yaml")
    with pytest.raises(ExportRefused) as info:
        export_policy(policy, fmt)
    assert info.value.exit_code == 2
    assert info.value.facts["rules"] == rules
    partial = export_policy(policy, fmt, ExportOptions(allow_partial=True))
    assert partial.gaps and all(g.split("'")[1] in rules for g in partial.gaps)
    assert partial.to_yaml().startswith("# PARTIAL: ")


def test_key_identities_are_refused_by_policy_controller_bundles() -> None:
    policy = load_policy(ROOT / "policies/examples/key-based.yaml")
    with pytest.raises(ExportRefused, match="identities"):
        export_policy(policy, "policy-controller", ExportOptions(allow_partial=False))
    key = export_policy(policy, "kyverno", ExportOptions()).document["spec"]["attestors"][0]["cosign"]["key"]
    assert key["data"].startswith("-----BEGIN PUBLIC KEY-----")


def test_unknown_format_and_bad_trust_root(tmp_path: Path) -> None:
    policy = parse_policy(EXPORTABLE.encode())
    with pytest.raises(UsageError, match="unknown export format 'opa'"):
        export_policy(policy, "opa")
    (tmp_path / "x.json").write_text('{"mediaType": "something else"}')
    with pytest.raises(UsageError, match="is not a Sigstore trusted root"):
        load_trust_material(tmp_path / "x.json")
