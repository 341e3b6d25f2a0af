"""The dev-stack is a real private Sigstore: sigstore-python and cosign sign and verify on it.

Every test here talks to the real servers started by `sccheck dev-stack up` (Fulcio v1.8.8,
TesseraCT v0.1.1, rekor-tiles v2.3.0, timestamp-authority v2.1.3, our OIDC issuer).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.dsse import DigestSet, Statement, StatementBuilder, Subject
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig, InvalidBundle
from sigstore.oidc import IdentityError, IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from supplychain import devstack
from supplychain.devstack import services
from supplychain.devstack.tokens import check_token
from supplychain.errors import DevStackError, SigningError
from supplychain.tools import find_tool
from tests.helpers.devstack import DevStack

pytestmark = pytest.mark.sigstore

DIGEST = hashlib.sha256(b"sccheck dev-stack test image").hexdigest()
PREDICATE_TYPE = "https://sccheck.dev/test/v1"
GITHUB_OID = "1.3.6.1.4.1.57264.1."


def statement() -> Statement:
    return (StatementBuilder()
            .subjects([Subject(name="127.0.0.1/hello", digest=DigestSet(root={"sha256": DIGEST}))])
            .predicate_type(PREDICATE_TYPE).predicate({"ok": True}).build())


def sign(stack: DevStack, token: str) -> Bundle:
    trust = ClientTrustConfig.from_json(stack.trust_config.read_text())
    with SigningContext.from_trust_config(trust).signer(IdentityToken(token)) as signer:
        return signer.sign_dsse(statement())


def verify(stack: DevStack, bundle: Bundle, identity: str, issuer: str) -> bytes:
    trust = ClientTrustConfig.from_json(stack.trust_config.read_text())
    ptype, payload = Verifier(trusted_root=trust.trusted_root).verify_dsse(
        bundle, policy.Identity(identity=identity, issuer=issuer))
    assert ptype == "application/vnd.in-toto+json"
    return payload


@pytest.fixture(scope="module")
def email_bundle(dev_stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = sign(dev_stack, dev_stack.mint_token())
    path = tmp_path_factory.mktemp("bundles") / "email.sigstore.json"
    path.write_text(bundle.to_json())
    return path


def test_up_is_quick_and_idempotent(dev_stack: DevStack) -> None:
    assert dev_stack.up_seconds < 15, f"cold up took {dev_stack.up_seconds}s"
    again = devstack.up(dev_stack.dir)
    assert again.already_running is True
    assert again.urls == dev_stack.urls
    assert set(again.running) == {"oidc", "ct", "rekor", "tsa", "tsa_proxy", "fulcio"}
    assert dev_stack.healthy()


def test_email_token_signs_a_dsse_statement_that_verifies(dev_stack: DevStack, email_bundle: Path) -> None:
    bundle = Bundle.from_json(email_bundle.read_text())
    payload = json.loads(verify(dev_stack, bundle, dev_stack.identity, dev_stack.issuer))
    assert payload["subject"][0]["digest"] == {"sha256": DIGEST}
    assert payload["predicateType"] == PREDICATE_TYPE

    raw = json.loads(email_bundle.read_text())
    material = raw["verificationMaterial"]
    # a Rekor v2 entry: inclusion proof with a signed checkpoint from origin 127.0.0.1, no SET
    (entry,) = material["tlogEntries"]
    # sigstore-python 4.5 logs a DSSE envelope to Rekor v2 as hashedrekord 0.0.2 over its PAE
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    assert entry["inclusionProof"]["checkpoint"]["envelope"].startswith("127.0.0.1\n")
    assert "inclusionPromise" not in entry
    # the TSA's timestamp is what gives a Rekor v2 bundle its verified time
    assert len(material["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    cert = x509.load_der_x509_certificate(base64.b64decode(material["certificate"]["rawBytes"]))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [dev_stack.identity]
    # the SCT from our CT log is embedded (sigstore-python checked it against the trusted root)
    assert cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"))


def test_identity_policy_rejects_another_identity_and_issuer(dev_stack: DevStack, email_bundle: Path) -> None:
    bundle = Bundle.from_json(email_bundle.read_text())
    with pytest.raises(VerificationError):
        verify(dev_stack, bundle, "someone-else@sccheck.local", dev_stack.issuer)
    with pytest.raises(VerificationError):
        verify(dev_stack, bundle, dev_stack.identity, dev_stack.github_issuer)


def _extensions(cert: x509.Certificate) -> dict[str, bytes]:
    return {ext.oid.dotted_string: ext.value.value for ext in cert.extensions
            if ext.oid.dotted_string.startswith(GITHUB_OID)}


def test_github_token_gives_a_certificate_with_workflow_extensions(dev_stack: DevStack) -> None:
    token = dev_stack.mint_token(github=True, ref="refs/tags/v1.2.3", sha="c0ffee" * 6 + "beef",
                                 event_name="release")
    bundle = sign(dev_stack, token)
    identity = dev_stack.github_workflow_identity(ref="refs/tags/v1.2.3")
    verify(dev_stack, bundle, identity, dev_stack.github_issuer)

    cert = bundle.signing_certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [identity]
    ext = _extensions(cert)
    # deprecated raw-string extensions
    assert ext[GITHUB_OID + "1"] == dev_stack.github_issuer.encode()
    assert ext[GITHUB_OID + "2"] == b"release"
    assert ext[GITHUB_OID + "3"] == b"c0ffee" * 6 + b"beef"
    assert ext[GITHUB_OID + "5"] == b"sccheck-dev/hello"
    assert ext[GITHUB_OID + "6"] == b"refs/tags/v1.2.3"
    # DER UTF8String extensions (tag 0x0c, short length)
    def der(value: str) -> bytes:
        return bytes([0x0C, len(value)]) + value.encode()
    assert ext[GITHUB_OID + "8"] == der(dev_stack.github_issuer)
    assert ext[GITHUB_OID + "9"] == der(identity)
    assert ext[GITHUB_OID + "11"] == der("github-hosted")
    assert ext[GITHUB_OID + "12"] == der("https://github.com/sccheck-dev/hello")
    assert ext[GITHUB_OID + "13"] == der("c0ffee" * 6 + "beef")
    assert ext[GITHUB_OID + "14"] == der("refs/tags/v1.2.3")
    assert ext[GITHUB_OID + "20"] == der("release")
    assert ext[GITHUB_OID + "21"] == der("https://github.com/sccheck-dev/hello/actions/runs/4242/attempts/1")


def test_actions_shaped_token_endpoint(dev_stack: DevStack) -> None:
    env = dev_stack.actions_env()
    url = env["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=sigstore"
    resp = requests.get(url, headers={"Authorization": f"bearer {env['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
                        timeout=5)
    assert resp.status_code == 200
    token = resp.json()["value"]
    facts = check_token(token)
    assert facts.issuer == dev_stack.github_issuer
    assert facts.subject == "repo:sccheck-dev/hello:ref:refs/heads/main"
    assert requests.get(url, headers={"Authorization": "bearer wrong"}, timeout=5).status_code == 401
    assert requests.get(url, timeout=5).status_code == 401


def test_cosign_accepts_a_bundle_signed_on_the_stack(dev_stack: DevStack, email_bundle: Path) -> None:
    cosign = find_tool("cosign")
    base = [cosign, "verify-blob-attestation", "--bundle", str(email_bundle),
            "--trusted-root", str(dev_stack.trusted_root), "--certificate-oidc-issuer", dev_stack.issuer,
            "--type", PREDICATE_TYPE, "--digest", DIGEST, "--digestAlg", "sha256"]
    ok = subprocess.run([*base, "--certificate-identity", dev_stack.identity],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "Verified OK" in ok.stderr + ok.stdout
    bad = subprocess.run([*base, "--certificate-identity", "mallory@sccheck.local"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "mallory@sccheck.local" in bad.stderr


def _fulcio_csr_request(stack: DevStack, token: str) -> requests.Response:
    key = ec.generate_private_key(ec.SECP256R1())
    proof = key.sign(check_token_subject(token).encode(), ec.ECDSA(hashes.SHA256()))
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    body = {"credentials": {"oidcIdentityToken": token},
            "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": pub},
                                 "proofOfPossession": base64.b64encode(proof).decode()}}
    return requests.post(stack.urls["fulcio"] + "/api/v2/signingCert", json=body, timeout=10)


def check_token_subject(token: str) -> str:
    import jwt
    claims = jwt.decode(token, options={"verify_signature": False})
    return str(claims.get("email") or claims["sub"])


@pytest.mark.parametrize(("claims", "reason", "fulcio_log"), [
    ({"expired": "1"}, "the identity token has expired", "oidc: token is expired"),
    ({"aud": "not-sigstore"}, "the identity token is for another audience",
     'oidc: expected audience \\"sigstore\\" got [\\"not-sigstore\\"]'),
])
def test_expired_and_wrong_audience_tokens_are_refused(dev_stack: DevStack, claims: dict[str, str],
                                                       reason: str, fulcio_log: str) -> None:
    token = dev_stack.mint_token(**claims)
    # Fulcio itself refuses, with a generic message (the reason is only in its log)...
    resp = _fulcio_csr_request(dev_stack, token)
    assert resp.status_code == 400
    assert resp.json()["message"] == "There was an error processing the identity token"
    assert fulcio_log in (dev_stack.dir / "logs" / "fulcio.log").read_text()
    # ...sigstore-python refuses vaguely before asking Fulcio...
    with pytest.raises(IdentityError, match="malformed or missing claims"):
        IdentityToken(token)
    # ...and sccheck's check names the problem and the fix.
    with pytest.raises(SigningError) as info:
        check_token(token)
    assert info.value.message == reason
    assert info.value.fix


def test_a_good_token_gets_a_certificate_straight_from_fulcio(dev_stack: DevStack) -> None:
    resp = _fulcio_csr_request(dev_stack, dev_stack.mint_token(email="ci@sccheck.local"))
    assert resp.status_code == 200, resp.text
    chain = resp.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    leaf = x509.load_pem_x509_certificate(chain[0].encode())
    root = x509.load_pem_x509_certificate(chain[-1].encode())
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.RFC822Name) == ["ci@sccheck.local"]
    trusted = json.loads(dev_stack.trusted_root.read_text())
    ca_chain = trusted["certificateAuthorities"][0]["certChain"]["certificates"]
    ca_der = base64.b64decode(ca_chain[-1]["rawBytes"])
    assert root.public_bytes(serialization.Encoding.DER) == ca_der


def test_busy_tsa_metrics_port_is_reported() -> None:
    # without a network namespace for the TSA, a taken :2112 must be named before starting
    holder = socket.socket()
    with contextlib.suppress(OSError):  # taken already (another stack's TSA): fine too
        holder.bind(("0.0.0.0", services.TSA_METRICS_PORT))
        holder.listen()
    try:
        with pytest.raises(DevStackError) as info:
            services.check_tsa_metrics_port()
    finally:
        holder.close()
    assert "port 2112 is busy" in info.value.message
    assert "sccheck dev-stack down" in (info.value.fix or "")


def test_tsa_runs_in_its_own_network_namespace(dev_stack: DevStack) -> None:
    """So that its fixed metrics port :2112 never collides with another stack's."""
    info = devstack.status(dev_stack.dir)
    assert info.tsa_isolated is True
    assert set(info.running) == {"oidc", "ct", "rekor", "tsa", "tsa_proxy", "fulcio"}
    assert os.readlink(f"/proc/{info.running['tsa']}/ns/net") != os.readlink("/proc/self/ns/net")
    assert requests.get(dev_stack.urls["tsa"] + "/api/v1/timestamp/certchain", timeout=5).text.count(
        "BEGIN CERTIFICATE") == 2


def test_restart_keeps_keys_and_old_bundles_verify(dev_stack: DevStack, email_bundle: Path) -> None:
    """Runs last in this module: down, then up on the same directory."""
    keys_before = {p.name: p.read_bytes() for p in (dev_stack.dir / "keys").iterdir()}
    root_before = dev_stack.trusted_root.read_bytes()
    assert sorted(devstack.down(dev_stack.dir)) == ["ct", "fulcio", "oidc", "rekor", "tsa", "tsa_proxy"]
    assert devstack.status(dev_stack.dir).running == {}
    info = devstack.up(dev_stack.dir)
    assert info.already_running is False and info.created_keys is False
    assert info.urls == dev_stack.urls
    assert {p.name: p.read_bytes() for p in (dev_stack.dir / "keys").iterdir()} == keys_before
    assert dev_stack.trusted_root.read_bytes() == root_before
    # the bundle made before the restart still verifies, with sigstore-python and cosign
    verify(dev_stack, Bundle.from_json(email_bundle.read_text()), dev_stack.identity, dev_stack.issuer)
    test_cosign_accepts_a_bundle_signed_on_the_stack(dev_stack, email_bundle)
    # and the restarted stack signs again
    verify(dev_stack, sign(dev_stack, dev_stack.mint_token()), dev_stack.identity, dev_stack.issuer)


def test_sigstore_python_quirk_a_dead_tsa_gives_a_confusing_error(
        dev_stack: DevStack, caplog: pytest.LogCaptureFixture) -> None:
    """Why sccheck's signer must check the TSA itself (documented in docs/devstack.md).

    sigstore-python 4.5.1 only logs a warning when the TSA fails, uploads the entry to Rekor
    anyway, and then fails building the bundle with an error that never names the TSA.
    """
    config = json.loads(dev_stack.trust_config.read_text())
    dead = f"http://127.0.0.1:{services.pick_free_port()}/api/v1/timestamp"
    config["signingConfig"]["tsaUrls"][0]["url"] = dead
    trust = ClientTrustConfig.from_json(json.dumps(config))
    with pytest.raises(InvalidBundle, match="must contain an inclusion promise or signed timestamp"), \
            SigningContext.from_trust_config(trust).signer(IdentityToken(dev_stack.mint_token())) as signer:
        signer.sign_dsse(statement())
    assert any(f"Unable to use {dead} to timestamp" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)
