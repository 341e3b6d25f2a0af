"""Interop with real cosign v3.1.2 on real registries (distribution 2.8: no referrers API, tag
fallback; ggcr's registry: OCI 1.1 referrers API) and the real local Sigstore.

cosign verifies what sccheck signs and attests (keyless and with a key); sccheck reads back what
cosign signs and attests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from supplychain.image.reference import parse_image_ref
from supplychain.registry import open_repository
from supplychain.signing import list_bundles
from supplychain.signing.bundle import bundle_facts
from supplychain.tools import find_tool
from tests.helpers.registries import Registry
from tests.signing.conftest import Sigstore
from tests.signing.images import push_tiny_image, push_tiny_index

pytestmark = pytest.mark.sigstore
PASSWORD = "interop-pass"


def cosign(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_tool("cosign") or "cosign", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def _image(reg: Registry, name: str, index: bool = False) -> tuple[str, str]:
    """(ref by tag, digest) of a fresh tiny image in `reg`."""
    ref = reg.ref(f"signing/{name}", "v1")
    store = open_repository(parse_image_ref(ref))
    desc = push_tiny_index(store, "v1", text=name)[0] if index else push_tiny_image(store, "v1", text=name)
    return ref, desc.digest


def _by_digest(reg: Registry, name: str, digest: str) -> str:
    return f"{reg.host}/signing/{name}@{digest}"


def _identity_flags(sig: Sigstore) -> list[str]:
    return [
        "--trusted-root",
        sig.trusted_root,
        "--certificate-identity",
        sig.identity,
        "--certificate-oidc-issuer",
        sig.issuer,
    ]


def test_cosign_verifies_keyless_sign_and_attest(
    any_registry: Registry, sigstore: Sigstore, tmp_path: Path, sccheck
) -> None:  # type: ignore[no-untyped-def]
    name = f"keyless-{any_registry.kind}"
    ref, digest = _image(any_registry, name)
    signed = sccheck("--json", "sign", ref, env=sigstore.env())
    assert signed.returncode == 0, signed.stderr
    result = json.loads(signed.stdout)
    assert result["digest"] == digest and result["reference"] == _by_digest(any_registry, name, digest)
    image = _by_digest(any_registry, name, digest)
    out = cosign("verify", *_identity_flags(sigstore), image)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["critical"]["image"]["docker-manifest-digest"] == digest
    wrong = cosign(
        "verify",
        "--trusted-root",
        sigstore.trusted_root,
        "--certificate-identity",
        "mallory@example.com",
        "--certificate-oidc-issuer",
        sigstore.issuer,
        image,
    )
    assert wrong.returncode != 0
    store = open_repository(parse_image_ref(ref))
    if not any_registry.referrers_api:
        assert "sha256-" + digest.split(":")[1] in store.list_tags()
    predicates = {
        "slsa": (
            "slsaprovenance1",
            {
                "buildDefinition": {
                    "buildType": "https://sccheck.dev/build/go-image/v1",
                    "externalParameters": {"source": "x"},
                },
                "runDetails": {"builder": {"id": "https://sccheck.dev/builder/local"}},
            },
        ),
        "sbom": (
            "cyclonedx",
            {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": []},
        ),
        "vuln": (
            "vuln",
            {
                "scanner": {
                    "uri": "pkg:golang/golang.org/x/vuln",
                    "version": "1.1.4",
                    "result": {"findings": []},
                }
            },
        ),
        "https://in-toto.io/attestation/test-result/v0.1": (
            "https://in-toto.io/attestation/test-result/v0.1",
            {"result": "PASSED", "configuration": [], "passedTests": ["go test ./..."]},
        ),
    }
    for kind, (cosign_type, predicate) in predicates.items():
        path = tmp_path / f"{cosign_type.replace('/', '_').replace(':', '_')}.json"
        path.write_text(json.dumps(predicate))
        att = sccheck("attest", image, "--type", kind, "--predicate", str(path), env=sigstore.env())
        assert att.returncode == 0, att.stderr
        out = cosign("verify-attestation", "--type", cosign_type, *_identity_flags(sigstore), image)
        assert out.returncode == 0, f"{kind}: {out.stderr}"
    bundles = list_bundles(store, digest)
    assert sorted(b.predicate_type or "" for b in bundles) == sorted(
        [
            "https://sigstore.dev/cosign/sign/v1",
            "https://slsa.dev/provenance/v1",
            "https://cyclonedx.org/bom",
            "https://cosign.sigstore.dev/attestation/vuln/v1",
            "https://in-toto.io/attestation/test-result/v0.1",
        ]
    )


def test_cosign_verifies_key_signed_index_and_platforms(
    any_registry: Registry, tmp_path: Path, sccheck
) -> None:  # type: ignore[no-untyped-def]
    env = {"SCCHECK_KEY_PASSWORD": PASSWORD}
    made = sccheck("generate-key-pair", "--output-prefix", str(tmp_path / "release"), env=env)
    assert made.returncode == 0, made.stderr
    name = f"key-{any_registry.kind}"
    ref, digest = _image(any_registry, name, index=True)
    signed = sccheck("--json", "sign", ref, "--key", str(tmp_path / "release.key"), env=env)
    assert signed.returncode == 0, signed.stderr
    result = json.loads(signed.stdout)
    assert len(result["subjects"]) == 3 and len(result["referrers"]) == 3
    pub = str(tmp_path / "release.pub")
    for subject in result["subjects"]:  # the index and each platform manifest
        out = cosign(
            "verify", "--key", pub, "--insecure-ignore-tlog", _by_digest(any_registry, name, subject)
        )
        assert out.returncode == 0, out.stderr
    other = tmp_path / "other"
    sccheck("generate-key-pair", "--output-prefix", str(other), env=env)
    out = cosign(
        "verify", "--key", f"{other}.pub", "--insecure-ignore-tlog", _by_digest(any_registry, name, digest)
    )
    assert out.returncode != 0
    sbom = tmp_path / "sbom.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}))
    att = sccheck(
        "attest",
        _by_digest(any_registry, name, digest),
        "--type",
        "sbom",
        "--predicate",
        str(sbom),
        "--key",
        str(tmp_path / "release.key"),
        env=env,
    )
    assert att.returncode == 0, att.stderr
    out = cosign(
        "verify-attestation",
        "--key",
        pub,
        "--insecure-ignore-tlog",
        "--type",
        "cyclonedx",
        _by_digest(any_registry, name, digest),
    )
    assert out.returncode == 0, out.stderr


def test_sccheck_reads_what_cosign_signs_and_attests(
    any_registry: Registry, sigstore: Sigstore, tmp_path: Path
) -> None:
    from sigstore.models import Bundle, ClientTrustConfig
    from sigstore.verify import Verifier, policy

    name = f"bycosign-{any_registry.kind}"
    ref, digest = _image(any_registry, name)
    image = _by_digest(any_registry, name, digest)
    config = json.loads(Path(sigstore.trust_config).read_text())
    signing_config = tmp_path / "signing_config.json"
    signing_config.write_text(json.dumps(config["signingConfig"]))
    common = ["--yes", "--trusted-root", sigstore.trusted_root, "--signing-config", str(signing_config)]
    out = cosign("sign", *common, "--identity-token", sigstore.token(), image)
    assert out.returncode == 0, out.stderr
    predicate = tmp_path / "slsa.json"
    predicate.write_text(
        json.dumps(
            {
                "buildDefinition": {"buildType": "https://example.com/t", "externalParameters": {}},
                "runDetails": {"builder": {"id": "https://example.com/b"}},
            }
        )
    )
    out = cosign(
        "attest",
        *common,
        "--identity-token",
        sigstore.token(),
        "--type",
        "slsaprovenance1",
        "--predicate",
        str(predicate),
        image,
    )
    assert out.returncode == 0, out.stderr
    store = open_repository(parse_image_ref(ref))
    bundles = list_bundles(store, digest)
    assert sorted(b.predicate_type or "" for b in bundles) == [
        "https://sigstore.dev/cosign/sign/v1",
        "https://slsa.dev/provenance/v1",
    ]
    trust = ClientTrustConfig.from_json(Path(sigstore.trust_config).read_text())
    verifier = Verifier(trusted_root=trust.trusted_root)
    for stored in bundles:
        payload_type, payload = verifier.verify_dsse(
            Bundle.from_json(stored.bundle),
            policy.Identity(identity=sigstore.identity, issuer=sigstore.issuer),
        )
        statement = json.loads(payload)
        assert payload_type == "application/vnd.in-toto+json"
        assert {"sha256": digest.split(":")[1]} in [s["digest"] for s in statement["subject"]]
        assert bundle_facts(stored.bundle).timestamps >= 1


def _statements(out: subprocess.CompletedProcess[str]) -> list[dict]:
    """The in-toto statements `cosign verify-attestation` printed (one DSSE envelope a line)."""
    import base64

    return [json.loads(base64.b64decode(json.loads(line)["payload"]))
            for line in out.stdout.splitlines() if line.strip().startswith("{")]


def test_cosign_verifies_the_multi_platform_tag_and_each_platform_gets_its_sbom(
    any_registry: Registry, sigstore: Sigstore, tmp_path: Path, sccheck
) -> None:  # type: ignore[no-untyped-def]
    """The evidence layout of docs/signing.md, checked by cosign: signature and provenance on the
    tag (the index), one SBOM per platform that verifies on the tag and on its own platform."""
    name = f"multi-{any_registry.kind}"
    ref = any_registry.ref(f"signing/{name}", "v1")
    store = open_repository(parse_image_ref(ref))
    index, children = push_tiny_index(store, "v1", text=name)
    env = sigstore.env()
    assert sccheck("sign", ref, env=env).returncode == 0
    provenance = tmp_path / "provenance.json"
    provenance.write_text(json.dumps({
        "buildDefinition": {"buildType": "https://sccheck.dev/build/go-image/v1", "externalParameters": {}},
        "runDetails": {"builder": {"id": "https://sccheck.dev/builder/local"}}}))
    att = sccheck("attest", ref, "--type", "slsa", "--predicate", str(provenance), env=env)
    assert att.returncode == 0, att.stderr
    for arch in ("amd64", "arm64"):
        sbom = tmp_path / f"sbom-{arch}.json"
        sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                                    "metadata": {"component": {"type": "container", "name": f"linux/{arch}"}},
                                    "components": []}))
        att = sccheck("--json", "attest", ref, "--type", "sbom", "--predicate", str(sbom),
                      "--platform", f"linux/{arch}", env=env)
        assert att.returncode == 0, att.stderr
        assert json.loads(att.stdout)["platform"] == f"linux/{arch}"
    # On the multi-platform tag: cosign verify, verify-attestation cyclonedx and slsaprovenance1.
    out = cosign("verify", *_identity_flags(sigstore), ref)
    assert out.returncode == 0, out.stderr
    out = cosign("verify-attestation", "--type", "slsaprovenance1", *_identity_flags(sigstore), ref)
    assert out.returncode == 0, out.stderr
    out = cosign("verify-attestation", "--type", "cyclonedx", *_identity_flags(sigstore), ref)
    assert out.returncode == 0, out.stderr
    on_tag = _statements(out)
    assert sorted(s["predicate"]["metadata"]["component"]["name"] for s in on_tag) == ["linux/amd64",
                                                                                       "linux/arm64"]
    # On each platform digest: exactly that platform's SBOM, naming the index and that child.
    for child, arch in zip(children, ("amd64", "arm64"), strict=True):
        image = _by_digest(any_registry, name, child.digest)
        out = cosign("verify-attestation", "--type", "cyclonedx", *_identity_flags(sigstore), image)
        assert out.returncode == 0, out.stderr
        (statement,) = _statements(out)
        assert statement["predicate"]["metadata"]["component"]["name"] == f"linux/{arch}"
        named = [f"sha256:{s['digest']['sha256']}" for s in statement["subject"]]
        assert named == [index.digest, child.digest]
        out = cosign("verify-attestation", "--type", "slsaprovenance1", *_identity_flags(sigstore), image)
        assert out.returncode == 0, out.stderr
