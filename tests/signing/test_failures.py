"""Failures around real services: a registry that refuses the referrer, a registry that wants
credentials, GitHub Actions' ambient token. Nothing half-attached, no token in any output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from supplychain.image.reference import parse_image_ref
from supplychain.registry import open_repository
from supplychain.signing import list_bundles
from tests.helpers.procs import Service, free_port, http_ok
from tests.helpers.registries import Registry, start_distribution
from tests.signing.conftest import Sigstore
from tests.signing.images import push_tiny_image
from tests.signing.test_registry_interop import cosign

pytestmark = pytest.mark.sigstore


def test_read_only_registry_refuses_the_referrer_and_nothing_is_attached(
        sigstore: Sigstore, tmp_path: Path, sccheck) -> None:  # type: ignore[no-untyped-def]
    work = tmp_path / "ro"
    writable = start_distribution(work)
    ref = writable.ref("signing/readonly", "v1")
    digest = push_tiny_image(open_repository(parse_image_ref(ref)), "v1", text="ro").digest
    writable.service.stop()
    port = free_port()
    config = {"version": 0.1, "log": {"level": "info"},
              "storage": {"filesystem": {"rootdirectory": str(work / "data")},
                          "maintenance": {"readonly": {"enabled": True}}},
              "http": {"addr": f"127.0.0.1:{port}", "secret": "sccheck-test-only"}}
    (work / "ro.yml").write_text(yaml.safe_dump(config))
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    svc = Service("distribution-readonly", [binary, "serve", str(work / "ro.yml")], work)
    try:
        svc.wait_ready(http_ok(f"http://127.0.0.1:{port}/v2/"))
        ro = Registry("distribution", f"127.0.0.1:{port}", svc)
        token = sigstore.token()
        out = sccheck("sign", ro.ref("signing/readonly", "v1"), "--trust-config", sigstore.trust_config,
                      "--identity-token", "-", input=token + "\n")
        assert out.returncode == 3, out.stderr
        assert f"{ro.host}/signing/readonly refused the signature referrer" in out.stderr
        assert token not in out.stdout + out.stderr
        store = open_repository(parse_image_ref(ro.ref("signing/readonly")))
        assert list_bundles(store, digest) == []
        assert store.list_tags() == ["v1"]
    finally:
        svc.stop()


def test_registry_without_credentials_fails_before_signing(
        auth_registry: Registry, sigstore: Sigstore, sccheck) -> None:  # type: ignore[no-untyped-def]
    from supplychain.registry import RegistryOptions

    creds = RegistryOptions(auth=(auth_registry.credential(),))
    ref = auth_registry.ref("signing/auth", "v1")
    store = open_repository(parse_image_ref(ref), creds)
    digest = push_tiny_image(store, "v1", text="auth").digest
    token = sigstore.token()
    out = sccheck("sign", ref, "--trust-config", sigstore.trust_config, "--identity-token", "-", input=token,
                  env={"SCCHECK_REGISTRY_USERNAME": "", "SCCHECK_REGISTRY_PASSWORD": "",
                       "DOCKER_CONFIG": "/nonexistent"})
    assert out.returncode == 3, out.stderr
    assert "registry error" in out.stderr
    assert token not in out.stdout + out.stderr
    assert list_bundles(store, digest) == []
    # with credentials it works, and the fallback tag index is written
    ok = sccheck("--json", "sign", ref, "--trust-config", sigstore.trust_config, "--identity-token", "-",
                 input=sigstore.token(), env={"SCCHECK_REGISTRY_HOST": auth_registry.host,
                                        "SCCHECK_REGISTRY_USERNAME": auth_registry.username or "",
                                        "SCCHECK_REGISTRY_PASSWORD": auth_registry.password or ""})
    assert ok.returncode == 0, ok.stderr
    attached = [b.referrer_digest for b in list_bundles(store, digest)]
    assert attached == [json.loads(ok.stdout)["referrer_digest"]]


def test_github_actions_ambient_token_signs_with_the_workflow_identity(
        registry: Registry, sigstore: Sigstore, sccheck) -> None:  # type: ignore[no-untyped-def]
    ref = registry.ref("signing/actions", "v1")
    push_tiny_image(open_repository(parse_image_ref(ref)), "v1", text="actions")
    env = {**sigstore.actions_env(), "SCCHECK_TRUST_CONFIG": sigstore.trust_config,
           "SCCHECK_DEV_TOKEN_URL": "", "SIGSTORE_ID_TOKEN": "", "SCCHECK_IDENTITY_TOKEN": ""}
    out = sccheck("--json", "sign", ref, env=env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["issuer"] == sigstore.info.github_issuer
    workflow = "https://github.com/sccheck-dev/hello/.github/workflows/release.yml@refs/heads/main"
    assert doc["identity"] == workflow
    image = f"{registry.host}/signing/actions@{doc['digest']}"
    verified = cosign("verify", "--trusted-root", sigstore.trusted_root, "--certificate-identity", workflow,
                      "--certificate-oidc-issuer", sigstore.info.github_issuer,
                      "--certificate-github-workflow-repository", "sccheck-dev/hello", image)
    assert verified.returncode == 0, verified.stderr
    assert env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] not in out.stdout + out.stderr
