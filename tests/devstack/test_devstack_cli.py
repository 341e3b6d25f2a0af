"""`sccheck dev-stack` through the real CLI, against the session's running stack."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import jwt
import pytest
from sigstore.dsse import DigestSet, StatementBuilder, Subject
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from tests.helpers.devstack import DevStack

pytestmark = pytest.mark.sigstore
Run = Callable[..., CompletedProcess[str]]


def test_up_again_says_already_running_in_json(dev_stack: DevStack, sccheck: Run) -> None:
    res = sccheck("dev-stack", "up", "--dir", str(dev_stack.dir), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] is True and out["already_running"] is True
    assert out["trust_config"] == str(dev_stack.trust_config)
    assert out["urls"] == dev_stack.urls
    human = sccheck("dev-stack", "up", "--dir", str(dev_stack.dir))
    assert human.stdout.startswith(f"dev-stack already running in {dev_stack.dir}\n")


def test_env_prints_exports_that_a_shell_evaluates(dev_stack: DevStack, sccheck: Run) -> None:
    res = sccheck("dev-stack", "env", "--dir", str(dev_stack.dir))
    assert res.returncode == 0, res.stderr
    exports = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
                   for line in res.stdout.splitlines())
    assert exports == {
        "SCCHECK_DEV_STACK_DIR": str(dev_stack.dir),
        "SCCHECK_TRUST_CONFIG": str(dev_stack.trust_config),
        "SCCHECK_TRUSTED_ROOT": str(dev_stack.trusted_root),
        "SCCHECK_DEV_ISSUER": dev_stack.issuer,
        "SCCHECK_DEV_IDENTITY": "dev@sccheck.local",
        "SCCHECK_DEV_TOKEN_URL": dev_stack.token_url,
        "SCCHECK_DEV_GITHUB_ISSUER": dev_stack.github_issuer,
    }
    as_json = sccheck("--json", "dev-stack", "env", "--dir", str(dev_stack.dir))
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {"ok": True, "env": exports}


def test_env_alone_is_enough_to_sign_and_verify(dev_stack: DevStack, sccheck: Run) -> None:
    """What `sccheck sign` will do with no flags: trust config + a token fetched by plain GET."""
    from supplychain.devstack import fetch_token

    env = dev_stack.env()
    trust = ClientTrustConfig.from_json(Path(env["SCCHECK_TRUST_CONFIG"]).read_text())
    token = IdentityToken(fetch_token(env["SCCHECK_DEV_TOKEN_URL"]))
    stmt = (StatementBuilder().subjects([Subject(name="x", digest=DigestSet(root={"sha256": "0" * 64}))])
            .predicate_type("https://sigstore.dev/cosign/sign/v1").predicate({}).build())
    with SigningContext.from_trust_config(trust).signer(token) as signer:
        bundle: Bundle = signer.sign_dsse(stmt)
    Verifier(trusted_root=trust.trusted_root).verify_dsse(
        bundle, policy.Identity(identity=env["SCCHECK_DEV_IDENTITY"], issuer=env["SCCHECK_DEV_ISSUER"]))


def test_token_goes_only_to_a_pipe_and_takes_claims(dev_stack: DevStack, sccheck: Run) -> None:
    res = sccheck("dev-stack", "token", "--dir", str(dev_stack.dir), "--github",
                  "--claim", "ref=refs/tags/v9", "--claim", "repository=acme/api")
    assert res.returncode == 0, res.stderr
    claims = jwt.decode(res.stdout.strip(), options={"verify_signature": False})
    assert claims["iss"] == dev_stack.github_issuer
    assert claims["aud"] == "sigstore"
    assert (claims["repository"], claims["ref"], claims["repository_owner"]) == ("acme/api", "refs/tags/v9",
                                                                                  "acme")
    assert claims["sub"] == "repo:acme/api:ref:refs/tags/v9"
    assert claims["exp"] - claims["iat"] == 300
    assert res.stdout.strip() not in res.stderr
    as_json = json.loads(sccheck("--json", "dev-stack", "token", "--dir", str(dev_stack.dir)).stdout)
    assert as_json["ok"] is True
    assert jwt.decode(as_json["token"], options={"verify_signature": False})["iss"] == dev_stack.issuer
    bad = sccheck("dev-stack", "token", "--dir", str(dev_stack.dir), "--claim", "ttl=99999")
    assert bad.returncode == 3
    assert "ttl must be between 1 and 3600 seconds" in bad.stderr
    usage = sccheck("dev-stack", "token", "--dir", str(dev_stack.dir), "--claim", "oops")
    assert usage.returncode == 2
    assert "a --claim is not KEY=VALUE" in usage.stderr


def test_status_lists_running_servers(dev_stack: DevStack, sccheck: Run) -> None:
    res = sccheck("--json", "dev-stack", "status", "--dir", str(dev_stack.dir))
    assert res.returncode == 0, res.stderr
    assert sorted(json.loads(res.stdout)["running"]) == ["ct", "fulcio", "oidc", "rekor", "tsa", "tsa_proxy"]


def test_commands_on_a_directory_without_a_stack_fail_clearly(tmp_path: Path, sccheck: Run) -> None:
    res = sccheck("dev-stack", "env", "--dir", str(tmp_path / "none"))
    assert res.returncode == 3
    assert "the dev-stack has never been started in this directory" in res.stderr
    assert "sccheck dev-stack up" in res.stderr
    down = sccheck("dev-stack", "down", "--dir", str(tmp_path / "none"))
    assert (down.returncode, down.stdout) == (0, "nothing was running\n")
