"""Offline checks of the dev-stack's own logic: keys, trust config, token claims."""

from __future__ import annotations

import datetime as dt
import json
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from sigstore.models import ClientTrustConfig

from supplychain.devstack.keys import KeyPaths, ensure_keys
from supplychain.devstack.oidc import github_claims, mint
from supplychain.devstack.services import Ports, allocate_ports
from supplychain.devstack.state import StateDir
from supplychain.devstack.tokens import check_token
from supplychain.devstack.trustconfig import write_trust_config
from supplychain.errors import DevStackError, SigningError


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[StateDir, KeyPaths]:
    state = StateDir.at(tmp_path_factory.mktemp("keys"))
    keys, created = ensure_keys(state)
    assert created
    return state, keys


def test_keys_are_made_once_with_secret_modes_and_the_right_formats(keyed: tuple[StateDir, KeyPaths]) -> None:
    state, keys = keyed
    again, created = ensure_keys(state)
    assert created is False and again == keys
    for secret in (keys.fulcio_key, keys.fulcio_pass, keys.ct_key, keys.rekor_key, keys.tsa_key,
                   keys.oidc_key, keys.actions_token):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    assert keys.ct_key.read_text().startswith("-----BEGIN EC PRIVATE KEY-----")
    assert keys.fulcio_key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    leaf, root = x509.load_pem_x509_certificates(keys.tsa_chain.read_bytes())
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical is True and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_an_incomplete_key_set_is_refused_not_silently_replaced(tmp_path: Path) -> None:
    state = StateDir.at(tmp_path)
    keys, _ = ensure_keys(state)
    keys.rekor_key.unlink()
    with pytest.raises(DevStackError) as info:
        ensure_keys(state)
    assert "rekor.key" in (info.value.found or "")


def test_trust_config_is_accepted_by_sigstore_python(keyed: tuple[StateDir, KeyPaths]) -> None:
    state, keys = keyed
    ports = Ports({"oidc": 1001, "ct": 1002, "rekor": 1003, "tsa": 1004, "fulcio": 1005})
    created = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    write_trust_config(state, keys, ports, created)
    config = ClientTrustConfig.from_json(state.trust_config.read_text())
    assert config.trusted_root is not None
    raw = json.loads(state.trust_config.read_text())
    assert raw["trustedRoot"] == json.loads(state.trusted_root.read_text())
    assert raw["signingConfig"]["rekorTlogUrls"][0] == {
        "url": "http://127.0.0.1:1003", "majorApiVersion": 2, "validFor": {"start": "2026-01-02T03:04:05Z"},
        "operator": "sccheck dev-stack"}
    assert raw["signingConfig"]["tsaUrls"][0]["url"] == "http://127.0.0.1:1004/api/v1/timestamp"


def test_saved_ports_are_reused_when_free() -> None:
    first = allocate_ports({})
    assert allocate_ports(first.values).values == first.values


def test_github_claims_carry_what_fulcio_requires() -> None:
    claims = github_claims({"repository": "acme/api", "ref": "refs/tags/v1"})
    for name in ("job_workflow_ref", "sha", "event_name", "repository", "workflow", "ref", "job_workflow_sha",
                 "runner_environment", "repository_id", "repository_owner", "repository_owner_id",
                 "repository_visibility", "workflow_ref", "workflow_sha", "run_id", "run_attempt"):
        assert claims[name], name
    assert claims["workflow_ref"] == "acme/api/.github/workflows/release.yml@refs/tags/v1"
    assert claims["sub"] == "repo:acme/api:ref:refs/tags/v1"


def test_check_token_names_the_problem() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = mint(key, "http://127.0.0.1:1", {"sub": "a", "email": "a@b"}, audience="sigstore", ttl=60,
                expired=False)
    facts = check_token(good)
    assert (facts.identity, facts.audience) == ("a@b", ("sigstore",))
    with pytest.raises(SigningError, match="has expired"):
        check_token(good, now=time.time() + 3600)
    with pytest.raises(SigningError, match="another audience"):
        check_token(mint(key, "i", {"sub": "a"}, audience="x", ttl=60, expired=False))
    with pytest.raises(SigningError, match="not a JWT"):
        check_token("not-a-token")
    assert jwt.get_unverified_header(good)["alg"] == "RS256"
