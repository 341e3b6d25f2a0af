"""Where credentials come from, and that each names its host: the --auth flags, the environment,
and `docker login`-style config files (Docker Hub's legacy key, URL keys, credential helpers)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from supplychain.errors import UsageError
from supplychain.image.reference import parse_image_ref
from supplychain.registry import RegistryOptions, open_repository
from supplychain.registry.auth import Credentials, docker_config_credentials, find_credentials
from supplychain.registry.options import HostCredential, registry_key


def _config(tmp_path: Path, doc: dict[str, object]) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_docker_login_for_docker_hub_is_found_for_every_hub_name(tmp_path: Path) -> None:
    path = _config(tmp_path, {"auths": {"https://index.docker.io/v1/": _auth("hubuser", "hubpass"),
                                        "ghcr.io": _auth("gh", "ghpass")}})
    for host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        assert docker_config_credentials(path, host) == Credentials("hubuser", "hubpass"), host
    assert docker_config_credentials(path, "ghcr.io") == Credentials("gh", "ghpass")
    for stranger in ("quay.io", "ghcr.io:5000", "docker.io.evil.example", "evil.example"):
        assert docker_config_credentials(path, stranger) is None, stranger


def test_the_api_host_of_docker_hub_and_its_credentials(tmp_path: Path) -> None:
    repo = open_repository(parse_image_ref("docker.io/library/alpine:3"), RegistryOptions())
    assert repo.transport.host == "registry-1.docker.io" and repo.repository == "library/alpine"
    path = _config(tmp_path, {"auths": {"https://index.docker.io/v1/": _auth("hubuser", "hubpass")}})
    options = RegistryOptions(docker_config=path)
    assert find_credentials(options, repo.transport.host) == Credentials("hubuser", "hubpass")


def test_url_keys_and_ports_are_hosts(tmp_path: Path) -> None:
    path = _config(tmp_path, {"auths": {"https://registry.example:5000/v2/": _auth("a", "1"),
                                        "http://REGISTRY.example": _auth("b", "2")}})
    assert docker_config_credentials(path, "registry.example:5000") == Credentials("a", "1")
    assert docker_config_credentials(path, "registry.example") == Credentials("b", "2")
    assert docker_config_credentials(path, "registry.example:5001") is None


def _helper(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """docker-credential-NAME: logs the server it was asked for, answers for two of them."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    log = tmp_path / f"{name}.log"
    script = bindir / f"docker-credential-{name}"
    script.write_text("#!/bin/sh\nread server\n"
                      f"echo \"$server\" >> {log}\n"
                      "case \"$server\" in\n"
                      "  https://index.docker.io/v1/)\n"
                      "    echo '{\"Username\":\"hub\",\"Secret\":\"hub-secret\"}';;\n"
                      "  ghcr.io) echo '{\"Username\":\"<token>\",\"Secret\":\"gh-identity\"}';;\n"
                      "  *) echo 'credentials not found in native keychain'; exit 1;;\n"
                      "esac\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return log


def test_creds_store_is_asked_with_docker_logins_server_names(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    log = _helper(tmp_path, "store", monkeypatch)
    path = _config(tmp_path, {"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "store"})
    assert docker_config_credentials(path, "registry-1.docker.io") == Credentials("hub", "hub-secret")
    assert docker_config_credentials(path, "ghcr.io") == Credentials("", identity_token="gh-identity")
    assert docker_config_credentials(path, "quay.io") is None
    assert log.read_text().split() == ["https://index.docker.io/v1/", "ghcr.io", "quay.io"]


def test_cred_helpers_per_registry_win_over_the_store(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _helper(tmp_path, "store", monkeypatch)
    log = _helper(tmp_path, "gh", monkeypatch)
    path = _config(tmp_path, {"credHelpers": {"ghcr.io": "gh", "docker.io": "gh"}, "credsStore": "store"})
    assert docker_config_credentials(path, "ghcr.io") == Credentials("", identity_token="gh-identity")
    assert docker_config_credentials(path, "index.docker.io") == Credentials("hub", "hub-secret")
    assert log.read_text().split() == ["ghcr.io", "https://index.docker.io/v1/"]


def test_flag_and_environment_credentials_are_bound_to_their_host(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("SCCHECK_REGISTRY_HOST", "SCCHECK_REGISTRY_USERNAME", "SCCHECK_REGISTRY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    options = RegistryOptions(auth=(HostCredential("docker.io", "u", "p"),
                                    HostCredential("127.0.0.1:5000", "l", "q")))
    assert options.credentials_for("registry-1.docker.io") == HostCredential("docker.io", "u", "p")
    assert options.credentials_for("127.0.0.1:5000").username == "l"  # type: ignore[union-attr]
    assert options.credentials_for("localhost:5000") is None
    assert options.credentials_for("127.0.0.1:5001") is None
    monkeypatch.setenv("SCCHECK_REGISTRY_HOST", "ghcr.io")
    monkeypatch.setenv("SCCHECK_REGISTRY_USERNAME", "robot")
    monkeypatch.setenv("SCCHECK_REGISTRY_PASSWORD", "ghs_x")
    assert RegistryOptions().credentials_for("GHCR.io") == HostCredential("ghcr.io", "robot", "ghs_x")
    assert RegistryOptions().credentials_for("quay.io") is None
    monkeypatch.delenv("SCCHECK_REGISTRY_HOST")
    with pytest.raises(UsageError) as info:
        RegistryOptions().credentials_for("ghcr.io")
    assert "SCCHECK_REGISTRY_HOST" in info.value.found and "ghs_x" not in info.value.diagnostics()
    assert registry_key("https://index.docker.io/v1/") == registry_key("registry-1.docker.io") == "docker.io"


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--username", "me", "--password-stdin"], "pw\n", "--auth HOST=me"),
    (["--password-stdin"], "pw\n", "exactly one --auth"),
    (["--auth", "a.example=me", "--auth", "b.example=you", "--password-stdin"], "pw\n", "exactly one --auth"),
    (["--auth", "a.example=me"], None, "has no password"),
    (["--auth", "me"], None, "expected HOST=USER"),
    (["--auth", "a.example=me", "--password-file", "b.example=/dev/null"], None, "has no --auth b.example"),
])
def test_credential_flags_that_do_not_name_a_host_are_refused(sccheck, tmp_path: Path, args: list[str],
                                                               stdin: str | None, message: str) -> None:
    proc = sccheck("--json", "copy", f"oci:{tmp_path}/nothing:v1", "127.0.0.1:1/x:v1", *args, input=stdin)
    assert proc.returncode == 2, proc.stderr
    assert message in json.loads(proc.stdout)["message"]


def test_environment_credentials_without_a_host_are_refused_by_the_cli(  # type: ignore[no-untyped-def]
        sccheck, auth_registry, tmp_path) -> None:
    proc = sccheck("--json", "copy", auth_registry.ref("scope/x", "v1"), f"oci:{tmp_path}/out",
                   "--retries", "0",
                   env={"SCCHECK_REGISTRY_USERNAME": "u", "SCCHECK_REGISTRY_PASSWORD": "secret-pw-1",
                        "SCCHECK_REGISTRY_HOST": "", "DOCKER_CONFIG": str(tmp_path)})
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)
    assert "incomplete" in doc["message"] and "SCCHECK_REGISTRY_HOST" in proc.stdout
    assert "secret-pw-1" not in proc.stdout + proc.stderr
