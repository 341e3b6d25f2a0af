"""Offline tests of the signing logic: statements, cosign-format keys, key-signed bundles,
referrer manifests in an OCI layout, identity tokens, predicates. cosign is the judge where
a format must match its own."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from supplychain.attest import load_predicate, resolve_predicate_type, validate_predicate
from supplychain.attest.slsa import ProvenanceInputs, slsa_provenance
from supplychain.attest.statement import Subject, build_statement
from supplychain.attest.vocabulary import COSIGN_SIGN as COSIGN_SIGN_PREDICATE
from supplychain.errors import SigningError, UsageError
from supplychain.image.layout import OCILayout
from supplychain.signing import attest_image, generate_key_pair, list_bundles, sign_image
from supplychain.signing.bundle import bundle_facts
from supplychain.signing.keys import decrypt_private_key, load_signing_key
from supplychain.signing.tokens import resolve_identity_token, scrub
from supplychain.tools import find_tool
from tests.signing.images import push_tiny_image, push_tiny_index

PASSWORD = "correct horse battery staple"


def _jwt(claims: dict) -> str:
    def enc(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{enc({'alg': 'RS256'})}.{enc(claims)}.c2lnbmF0dXJlLXNlY3JldC1wYXJ0"


def test_statement_is_canonical_and_names_every_platform(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "oci", create=True)
    index, children = push_tiny_index(layout, "v1")
    from supplychain.attest.statement import Subject
    from supplychain.signing.api import evidence_targets

    targets, _ = evidence_targets(layout, index.digest)
    assert [t.digest for t in targets] == [index.digest, *(c.digest for c in children)]
    subjects = [Subject("oci:x", t.digest) for t in targets]
    st = build_statement(subjects, COSIGN_SIGN_PREDICATE, {})
    doc = json.loads(st.payload)
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["subject"][0] == {"name": "oci:x", "digest": {"sha256": index.digest.split(":")[1]}}
    assert st.payload == build_statement(subjects, COSIGN_SIGN_PREDICATE, {}).payload
    with pytest.raises(SigningError):
        build_statement([], COSIGN_SIGN_PREDICATE, {})


def test_key_pair_is_cosign_format_both_ways(tmp_path: Path) -> None:
    cosign = find_tool("cosign")
    ours = generate_key_pair(tmp_path / "ours", PASSWORD)
    assert Path(ours.private_key).stat().st_mode & 0o777 == 0o600
    assert "ENCRYPTED SIGSTORE PRIVATE KEY" in Path(ours.private_key).read_text()
    env = {**os.environ, "COSIGN_PASSWORD": PASSWORD}
    # cosign decrypts our private key and derives the same public key
    out = subprocess.run([cosign, "public-key", "--key", ours.private_key], env=env,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == Path(ours.public_key).read_text().strip()
    # we decrypt cosign's
    subprocess.run([cosign, "generate-key-pair", "--output-key-prefix", str(tmp_path / "theirs")],
                   env=env, capture_output=True, check=True, cwd=tmp_path)
    key = load_signing_key(tmp_path / "theirs.key", PASSWORD)
    from supplychain.signing.keys import public_pem

    assert public_pem(key.public_key()).decode().strip() == (tmp_path / "theirs.pub").read_text().strip()
    with pytest.raises(UsageError, match="wrong password"):
        decrypt_private_key((tmp_path / "theirs.key").read_bytes(), "nope")
    with pytest.raises(UsageError, match="already exists"):
        generate_key_pair(tmp_path / "ours", PASSWORD)


def test_key_signed_attestation_in_a_layout_passes_cosign(tmp_path: Path) -> None:
    cosign = find_tool("cosign")
    keys = generate_key_pair(tmp_path / "k", PASSWORD)
    layout = OCILayout(tmp_path / "oci", create=True)
    image = push_tiny_image(layout, "v1")
    result = sign_image(f"oci:{layout.path}:v1", key=keys.private_key, key_password=PASSWORD)
    assert result.digest == image.digest and result.mode == "key" and result.log_index is None
    assert result.reference == f"oci:{layout.path}@{image.digest}"
    manifest = json.loads(layout.read_blob(layout.resolve(result.referrer_digest)))
    assert manifest["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert manifest["config"] == {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                                  "digest": empty}
    assert manifest["subject"] == {"mediaType": image.media_type, "digest": image.digest, "size": image.size}
    assert manifest["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
    assert manifest["annotations"]["dev.sigstore.bundle.predicateType"] == COSIGN_SIGN_PREDICATE
    stored = list_bundles(layout, image.digest)
    assert [b.referrer_digest for b in stored] == [result.referrer_digest]
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_bytes(stored[0].bundle)
    # cosign checks the DSSE signature with our public key and the subject digest
    out = subprocess.run([cosign, "verify-blob-attestation", "--bundle", str(bundle_path),
                          "--key", keys.public_key, "--insecure-ignore-tlog", "--type",
                          COSIGN_SIGN_PREDICATE, "--digest", image.digest.split(":")[1],
                          "--digestAlg", "sha256"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # and rejects it for another digest
    out = subprocess.run([cosign, "verify-blob-attestation", "--bundle", str(bundle_path),
                          "--key", keys.public_key, "--insecure-ignore-tlog", "--type",
                          COSIGN_SIGN_PREDICATE, "--digest", "0" * 64, "--digestAlg", "sha256"],
                         capture_output=True, text=True)
    assert out.returncode != 0


def test_attest_an_index_attaches_to_index_and_platforms(tmp_path: Path) -> None:
    keys = generate_key_pair(tmp_path / "k", PASSWORD)
    layout = OCILayout(tmp_path / "oci", create=True)
    index, children = push_tiny_index(layout, "v1")
    predicate = slsa_provenance(ProvenanceInputs("https://example.com/hello", "a" * 40,
                                                 "127.0.0.1:5000/base@sha256:" + "b" * 64, "go1.26.0"))
    result = attest_image(f"oci:{layout.path}@{index.digest}", resolve_predicate_type("slsa"), predicate,
                          key=keys.private_key, key_password=PASSWORD)
    assert result.subjects == (index.digest, children[0].digest, children[1].digest)
    assert len(result.referrers) == 3
    for digest in (index.digest, *(c.digest for c in children)):
        found = list_bundles(layout, digest, predicate_type="https://slsa.dev/provenance/v1")
        assert len(found) == 1
        facts = bundle_facts(found[0].bundle)
        st = json.loads(facts.payload)
        assert st["predicate"]["buildDefinition"]["buildType"] == "https://sccheck.dev/build/go-image/v1"
    assert list_bundles(layout, index.digest, predicate_type="https://cyclonedx.org/bom") == []


def test_generate_key_pair_without_a_password_is_refused(tmp_path: Path, sccheck) -> None:  # type: ignore[no-untyped-def]
    out = sccheck("generate-key-pair", "--output-prefix", str(tmp_path / "k"), input="",
                  env={"SCCHECK_KEY_PASSWORD": "", "COSIGN_PASSWORD": ""})
    assert out.returncode == 0, out.stderr  # an empty password is a password (as in cosign)
    env = {k: v for k, v in os.environ.items() if k not in ("SCCHECK_KEY_PASSWORD", "COSIGN_PASSWORD")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([*sccheck_argv(), "generate-key-pair", "--output-prefix", str(tmp_path / "n")],
                         env=env, input="", capture_output=True, text=True)
    assert out.returncode == 2 and "no password" in out.stderr
    assert not (tmp_path / "n.key").exists() and not (tmp_path / "n.pub").exists()


def sccheck_argv() -> list[str]:
    import sys

    return [sys.executable, "-m", "supplychain"]


def test_wrong_key_password_attaches_nothing(tmp_path: Path) -> None:
    keys = generate_key_pair(tmp_path / "k", PASSWORD)
    layout = OCILayout(tmp_path / "oci", create=True)
    image = push_tiny_image(layout, "v1")
    with pytest.raises(UsageError, match="wrong password"):
        sign_image(f"oci:{layout.path}:v1", key=keys.private_key, key_password="wrong")
    assert list_bundles(layout, image.digest) == []


def test_a_key_is_decrypted_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt runs once for a key file and password, however many signatures follow; a wrong
    password is refused every time; the cache is keyed by the file's content, not its name."""
    from supplychain.signing import keys

    first, second = generate_key_pair(tmp_path / "a", PASSWORD), generate_key_pair(tmp_path / "b", PASSWORD)
    calls: list[int] = []
    real = keys._scrypt_key
    monkeypatch.setattr(keys, "_scrypt_key", lambda *a: calls.append(1) or real(*a))
    one = load_signing_key(first.private_key, PASSWORD)
    assert load_signing_key(first.private_key, PASSWORD) is one and len(calls) == 1
    for _ in range(2):
        with pytest.raises(UsageError):
            load_signing_key(first.private_key, PASSWORD + "-wrong")
    assert len(calls) == 3
    other = load_signing_key(second.private_key, PASSWORD)
    assert other is not one and len(calls) == 4
    Path(first.private_key).write_bytes(Path(second.private_key).read_bytes())
    assert load_signing_key(first.private_key, PASSWORD) is other and len(calls) == 4


def test_identity_token_checks_never_leak_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGSTORE_ID_TOKEN", "SCCHECK_IDENTITY_TOKEN", "SCCHECK_DEV_TOKEN_URL",
                 "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    now = time.time()
    good = {"iss": "https://issuer.test", "sub": "me", "aud": "sigstore", "iat": int(now),
            "exp": int(now) + 300, "email": "me@example.com"}
    expired = _jwt({**good, "exp": int(now) - 10})
    with pytest.raises(UsageError, match="expired") as err:
        resolve_identity_token(expired)
    assert expired not in err.value.diagnostics() and "c2lnbmF0dXJl" not in err.value.diagnostics()
    with pytest.raises(UsageError, match="wrong audience") as err:
        resolve_identity_token(_jwt({**good, "aud": "other"}))
    assert "'other'" in err.value.diagnostics()
    with pytest.raises(UsageError, match="no identity token"):
        resolve_identity_token(None)
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", _jwt(good))
    src = resolve_identity_token(None)
    assert src.source == "env SIGSTORE_ID_TOKEN" and src.identity == "me@example.com"
    assert src.token not in repr(src)
    assert scrub(f"boom {src.token}", src.token) == "boom <identity token>"


def test_predicate_types_and_shapes(tmp_path: Path) -> None:
    assert resolve_predicate_type("sbom") == "https://cyclonedx.org/bom"
    assert resolve_predicate_type("vuln") == "https://cosign.sigstore.dev/attestation/vuln/v1"
    assert resolve_predicate_type("https://example.com/p/v1") == "https://example.com/p/v1"
    with pytest.raises(UsageError, match="unknown attestation type"):
        resolve_predicate_type("sbomm")
    with pytest.raises(UsageError, match="CycloneDX"):
        validate_predicate("https://cyclonedx.org/bom", {"bomFormat": "SPDX"})
    with pytest.raises(UsageError, match=r"runDetails\.builder\.id"):
        validate_predicate("https://slsa.dev/provenance/v1",
                           {"buildDefinition": {"buildType": "x", "externalParameters": {}}})
    bad = tmp_path / "attestation_predicate_not_an_object.json"
    bad.write_text("[1, 2]")
    with pytest.raises(UsageError, match="must be a JSON object"):
        load_predicate(bad)
    assert Subject("n", "sha256:" + "a" * 64).to_dict() == {"name": "n", "digest": {"sha256": "a" * 64}}


def test_provenance_names_the_source_as_a_git_uri_with_its_ref() -> None:
    from supplychain.attest.slsa import source_uri

    assert source_uri("https://github.com/org/app", "refs/heads/main") == \
        "git+https://github.com/org/app@refs/heads/main"
    assert source_uri("ssh://git@github.com/org/app.git", "refs/tags/v1.0.0") == \
        "git+ssh://git@github.com/org/app.git@refs/tags/v1.0.0"
    assert source_uri("file:///srv/git/app", "refs/heads/main") == "git+file:///srv/git/app@refs/heads/main"
    assert source_uri("git+https://example.com/a", "refs/heads/x") == "git+https://example.com/a@refs/heads/x"
    assert source_uri("file:///tmp/tree", None) == "file:///tmp/tree"   # a tree that is no checkout
    predicate = slsa_provenance(ProvenanceInputs("https://example.com/hello", "a" * 40,
                                                 source_ref="refs/heads/main"))
    (source, *_) = predicate["buildDefinition"]["resolvedDependencies"]
    assert source == {"uri": "git+https://example.com/hello@refs/heads/main",
                      "digest": {"gitCommit": "a" * 40}}
    assert predicate["buildDefinition"]["externalParameters"]["ref"] == "refs/heads/main"


def test_git_remotes_become_absolute_uris(tmp_path: Path) -> None:
    """SARIF's repositoryUri and SLSA's source must be URIs, whatever form origin was cloned from."""
    from supplychain.source import remote_uri

    assert remote_uri("https://tok:x-oauth@github.com/org/app.git") == "https://github.com/org/app.git"
    assert remote_uri("git@github.com:org/app.git") == "ssh://git@github.com/org/app.git"
    assert remote_uri("/srv/git/app") == "file:///srv/git/app"
    assert remote_uri("../app", tmp_path / "work") == (tmp_path / "app").resolve().as_uri()
