"""Keyless signing against the real local Sigstore (Fulcio, CT log, Rekor v2, TSA, OIDC), into
an OCI layout; cosign verifies the bundles; failures of each service leave no referrer."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from supplychain.errors import SigningError, UsageError
from supplychain.image.layout import OCILayout
from supplychain.signing import attest_image, list_bundles, sign_image
from supplychain.signing.keys import PASSWORD_ENV
from supplychain.tools import find_tool
from tests.signing.conftest import Sigstore
from tests.signing.images import push_tiny_image

pytestmark = pytest.mark.sigstore


def _layout(tmp_path: Path) -> tuple[OCILayout, str]:
    layout = OCILayout(tmp_path / "oci", create=True)
    return layout, push_tiny_image(layout, "v1", text=str(tmp_path)).digest


def _cosign_blob_attestation(bundle: bytes, digest: str, ptype: str, tmp_path: Path, *args: str) -> \
        subprocess.CompletedProcess[str]:
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle)
    return subprocess.run([find_tool("cosign") or "cosign", "verify-blob-attestation", "--bundle", str(path),
                           "--type", ptype, "--digest", digest.split(":")[1], "--digestAlg", "sha256", *args],
                          capture_output=True, text=True)


def test_keyless_sign_is_logged_timestamped_and_cosign_verifies(sigstore: Sigstore, tmp_path: Path) -> None:
    layout, digest = _layout(tmp_path)
    result = sign_image(f"oci:{layout.path}:v1", trust_config=sigstore.trust_config,
                        identity_token=sigstore.token())
    assert result.mode == "keyless" and result.digest == digest
    assert result.log_index is not None and result.log_index >= 0 and result.timestamps == 1
    assert (result.identity, result.issuer) == (sigstore.identity, sigstore.issuer)
    [stored] = list_bundles(layout, digest)
    assert stored.referrer_digest == result.referrer_digest
    out = _cosign_blob_attestation(stored.bundle, digest, "https://sigstore.dev/cosign/sign/v1", tmp_path,
                                   "--trusted-root", sigstore.trusted_root, "--certificate-identity",
                                   sigstore.identity, "--certificate-oidc-issuer", sigstore.issuer)
    assert out.returncode == 0, out.stderr
    out = _cosign_blob_attestation(stored.bundle, digest, "https://sigstore.dev/cosign/sign/v1", tmp_path,
                                   "--trusted-root", sigstore.trusted_root, "--certificate-identity",
                                   "someone-else@example.com", "--certificate-oidc-issuer", sigstore.issuer)
    assert out.returncode != 0


def test_key_signature_logged_in_rekor_verifies_with_the_log(sigstore: Sigstore, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from supplychain.signing import generate_key_pair

    keys = generate_key_pair(tmp_path / "k", "pw")
    layout, digest = _layout(tmp_path)
    rekor = sigstore.info.urls["rekor"]
    result = attest_image(f"oci:{layout.path}:v1", "https://example.com/custom/v1", {"hello": "world"},
                          key=keys.private_key, key_password="pw", rekor_url=rekor)
    assert result.mode == "key" and result.log_index is not None
    [stored] = list_bundles(layout, digest)
    out = _cosign_blob_attestation(stored.bundle, digest, "https://example.com/custom/v1", tmp_path,
                                   "--key", keys.public_key, "--trusted-root", sigstore.trusted_root)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(("service", "name"), [("caUrls", "Fulcio"), ("rekorTlogUrls", "Rekor"),
                                               ("tsaUrls", "TSA")])
def test_a_service_down_is_a_clear_error_and_attaches_nothing(sigstore: Sigstore, tmp_path: Path,
                                                              service: str, name: str) -> None:
    layout, digest = _layout(tmp_path)
    token = sigstore.token()
    broken = sigstore.broken_trust_config(tmp_path, service)
    with pytest.raises(SigningError) as err:
        sign_image(f"oci:{layout.path}:v1", trust_config=broken, identity_token=token)
    text = err.value.diagnostics()
    assert err.value.facts["service"] == name, text
    assert token not in text
    assert list_bundles(layout, digest) == []
    assert [e.digest for e in layout.entries()] == [digest]


def test_expired_token_and_wrong_audience_are_refused_before_any_upload(sigstore: Sigstore,
                                                                        tmp_path: Path) -> None:
    layout, digest = _layout(tmp_path)
    for claims, message in (({"expired": "1"}, "expired"), ({"aud": "not-sigstore"}, "wrong audience")):
        token = sigstore.token(**claims)
        with pytest.raises(UsageError, match=message) as err:
            sign_image(f"oci:{layout.path}:v1", trust_config=sigstore.trust_config, identity_token=token)
        assert token not in err.value.diagnostics()
    assert list_bundles(layout, digest) == []


def test_cli_signs_with_only_the_dev_stack_env_and_never_prints_the_token(
        sigstore: Sigstore, tmp_path: Path, sccheck) -> None:  # type: ignore[no-untyped-def]
    layout, digest = _layout(tmp_path)
    env = {**sigstore.env(), **dict.fromkeys(PASSWORD_ENV, "")}
    ok = sccheck("--json", "sign", f"oci:{layout.path}:v1", env=env)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["digest"] == digest and doc["mode"] == "keyless" and doc["identity"] == sigstore.identity
    token = sigstore.token()
    broken = sigstore.broken_trust_config(tmp_path, "caUrls")
    (tmp_path / "token").write_text(token + "\n")
    bad = sccheck("sign", f"oci:{layout.path}:v1", "--trust-config", broken,
                  "--identity-token", f"@{tmp_path / 'token'}")
    assert bad.returncode == 3
    assert "Fulcio is unreachable" in bad.stderr
    assert token not in bad.stdout + bad.stderr
    assert token.split(".")[2] not in bad.stdout + bad.stderr
    assert len(list_bundles(layout, digest)) == 1
