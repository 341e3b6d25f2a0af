"""cosign's legacy `.sig` / `.att` tag formats, written by real cosign v3 (`--new-bundle-format=false`)
into a real registry, read and verified by `sccheck verify` against a policy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from supplychain.image.descriptor import MediaType, canonical_json
from supplychain.registry.options import RegistryOptions
from supplychain.stores import open_store
from supplychain.tools import find_tool
from tests.conftest import run_sccheck
from tests.helpers.registries import Registry
from tests.signing.images import push_tiny_image

PASSWORD = "legacy-test-password"


def _cosign(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cosign = find_tool("cosign")
    assert cosign
    env = {**os.environ, "COSIGN_PASSWORD": PASSWORD}
    return subprocess.run([cosign, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


LEGACY = ("--new-bundle-format=false", "--use-signing-config=false", "--tlog-upload=false",
          "--allow-insecure-registry", "-y")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name in ("signer", "stranger"):
        d = tmp_path_factory.mktemp(name)
        proc = _cosign("generate-key-pair", cwd=d)
        assert proc.returncode == 0, proc.stderr
        out[name] = d
    return out


def _push(registry: Registry, repo: str, text: str) -> str:
    store = open_store(registry.ref(repo, "v1"), RegistryOptions())
    return push_tiny_image(store, "v1", text=text).digest


def _policy(tmp: Path, key_dir: Path, *, unsafe_no_tlog: bool = True, formats: list[str] | None = None,
            provenance: bool = False) -> Path:
    pub = (key_dir / "cosign.pub").read_text()
    doc: dict = {"apiVersion": "sccheck.dev/v1", "kind": "Policy", "name": "legacy",
                 "identities": [{"publicKey": pub, "name": "release-key",
                                 "UnsafeNoTransparencyLog": unsafe_no_tlog}],
                 "signature": {}}
    if formats:
        doc["signatureFormats"] = formats
    if provenance:
        doc["attestations"] = {"provenance": {"commitPresent": True}}
    path = tmp / f"policy-{len(list(tmp.glob('policy-*')))}.yaml"
    path.write_text(json.dumps(doc))
    return path


def _verify(ref: str, policy: Path) -> tuple[int, dict]:
    proc = run_sccheck("--json", "verify", ref, "--policy", str(policy))
    return proc.returncode, json.loads(proc.stdout)


def _rule(doc: dict, name: str) -> dict:
    return next(r for r in doc["results"] if r["rule"] == name)


def test_a_cosign_v2_style_key_signature_verifies(registry: Registry, keys, tmp_path: Path) -> None:
    digest = _push(registry, "legacy/sig", "sig")
    ref = registry.ref("legacy/sig") + "@" + digest
    proc = _cosign("sign", "--key", "cosign.key", *LEGACY, ref, cwd=keys["signer"])
    assert proc.returncode == 0, proc.stderr
    rc, doc = _verify(ref, _policy(tmp_path, keys["signer"]))
    assert rc == 0, doc
    (stmt,) = doc["verified"]
    assert stmt["signer"]["keyName"] == "release-key" and stmt["subjects"] == [digest]
    # the same signature, with formats limited to bundles, is no evidence
    rc, doc = _verify(ref, _policy(tmp_path, keys["signer"], formats=["bundle"]))
    assert rc == 1 and _rule(doc, "signature")["status"] == "no-evidence"
    # without the transparency-log waiver the policy refuses it, saying why
    rc, doc = _verify(ref, _policy(tmp_path, keys["signer"], unsafe_no_tlog=False))
    assert rc == 1
    assert any("no transparency log entry" in b["reason"] for b in doc["rejected"])


def test_a_legacy_signature_by_another_key_is_rejected(registry: Registry, keys, tmp_path: Path) -> None:
    digest = _push(registry, "legacy/stranger", "stranger")
    ref = registry.ref("legacy/stranger") + "@" + digest
    assert _cosign("sign", "--key", "cosign.key", *LEGACY, ref, cwd=keys["stranger"]).returncode == 0
    rc, doc = _verify(ref, _policy(tmp_path, keys["signer"]))
    assert rc == 1 and _rule(doc, "signature")["status"] == "fail"
    assert any("does not verify with any public key" in b["reason"] for b in doc["rejected"])


def test_a_legacy_attestation_verifies_and_its_conditions_count(registry: Registry, keys,
                                                                tmp_path: Path) -> None:
    digest = _push(registry, "legacy/att", "att")
    ref = registry.ref("legacy/att") + "@" + digest
    assert _cosign("sign", "--key", "cosign.key", *LEGACY, ref, cwd=keys["signer"]).returncode == 0
    predicate = tmp_path / "provenance.json"
    predicate.write_text(json.dumps({
        "buildDefinition": {"buildType": "https://example.com/build/v1", "externalParameters": {},
                            "resolvedDependencies": [{"uri": "git+https://example.com/org/app@refs/heads/main",
                                                      "digest": {"gitCommit": "a" * 40}}]},
        "runDetails": {"builder": {"id": "https://example.com/builder"}}}))
    proc = _cosign("attest", "--key", "cosign.key", *LEGACY, "--type", "slsaprovenance1",
                   "--predicate", str(predicate), ref, cwd=keys["signer"])
    assert proc.returncode == 0, proc.stderr
    rc, doc = _verify(ref, _policy(tmp_path, keys["signer"], provenance=True))
    assert rc == 0, doc
    assert {s["predicateType"] for s in doc["verified"]} == {"https://sigstore.dev/cosign/sign/v1",
                                                            "https://slsa.dev/provenance/v1"}


def test_a_legacy_signature_moved_to_another_image_is_refused(registry: Registry, keys,
                                                              tmp_path: Path) -> None:
    signed = _push(registry, "legacy/moved", "signed")
    other = _push(registry, "legacy/moved", "other")
    repo = registry.ref("legacy/moved")
    proc = _cosign("sign", "--key", "cosign.key", *LEGACY, f"{repo}@{signed}", cwd=keys["signer"])
    assert proc.returncode == 0, proc.stderr
    store = open_store(repo + ":v1", RegistryOptions())
    data, media_type, _ = store.read_manifest(signed.replace(":", "-") + ".sig")
    store.write_manifest(data, media_type, other.replace(":", "-") + ".sig")
    rc, doc = _verify(f"{repo}@{other}", _policy(tmp_path, keys["signer"]))
    assert rc == 1
    assert any(b["stage"] == "subject" and "another image" in b["reason"] for b in doc["rejected"])


def _certificate_pem() -> str:
    """A code-signing certificate such as a keyless signer holds (here self-issued)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sigstore-intermediate")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("dev@sccheck.local")]), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_keyless_legacy_signature_without_a_verifiable_set_says_why(registry: Registry, sigstore_stack,
                                                                      tmp_path: Path) -> None:
    """Keyless legacy signatures need the Rekor v1 SET; this machine's Sigstore is Rekor v2 only."""
    digest = _push(registry, "legacy/keyless", "keyless")
    repo = registry.ref("legacy/keyless")
    store = open_store(repo + ":v1", RegistryOptions())
    payload = canonical_json({"critical": {"identity": {"docker-reference": repo},
                                           "image": {"docker-manifest-digest": digest},
                                           "type": "cosign container image signature"}, "optional": None})
    from supplychain.image.descriptor import Descriptor

    layer = store.write_blob(payload, Descriptor.for_bytes("application/vnd.dev.cosign.simplesigning.v1+json",
                                                           payload))
    config = store.write_blob(b"{}", Descriptor.for_bytes(MediaType.OCI_CONFIG, b"{}"))
    pem = _certificate_pem()
    manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                               "config": config.to_dict() | {"mediaType": MediaType.OCI_CONFIG},
                               "layers": [layer.to_dict() | {
                                   "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                                   "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ==",
                                                   "dev.sigstore.cosign/certificate": pem}}]})
    store.write_manifest(manifest, MediaType.OCI_MANIFEST, digest.replace(":", "-") + ".sig")
    policy = tmp_path / "keyless.yaml"
    policy.write_text(json.dumps({"apiVersion": "sccheck.dev/v1", "kind": "Policy", "name": "legacy-keyless",
                                  "identities": [{"issuer": sigstore_stack.issuer,
                                                  "subject": sigstore_stack.identity}],
                                  "signature": {}}))
    proc = run_sccheck("--json", "verify", f"{repo}@{digest}", "--policy", str(policy),
                       "--trust-config", str(sigstore_stack.trust_config))
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1, doc
    (reason,) = [b["reason"] for b in doc["rejected"]]
    assert "no Rekor v1 SET" in reason
