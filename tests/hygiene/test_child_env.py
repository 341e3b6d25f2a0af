"""Child processes never see a secret sccheck knows of; the user's build settings pass through.

The unit half checks `child_env` itself and that every subprocess call in the library goes
through it; the integration half (tests/pipeline/test_child_env_leak.py) runs a Go module whose
test dumps its environment through `check` and `build-and-sign`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from supplychain.tools import PROJECT_ROOT, SECRET_ENV, child_env, is_secret_env

SECRETS = {
    "SIGSTORE_ID_TOKEN": "eyJ.secret-identity.token",
    "SIGSTORE_ID_TOKEN_FILE": "/run/secrets/oidc",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "actions-request-bearer",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.example/mint?x=1",
    "ACTIONS_RUNTIME_TOKEN": "actions-runtime",
    "GITHUB_TOKEN": "ghs_secret",
    "GH_TOKEN": "gho_secret",
    "COSIGN_PASSWORD": "cosign-key-password",
    "SCCHECK_REGISTRY_PASSWORD": "registry-password",
    "SCCHECK_REGISTRY_USERNAME": "registry-user",
    "SCCHECK_REGISTRY_HOST": "registry.example",
    "SCCHECK_KEY_PASSWORD": "key-password",
    "SCCHECK_IDENTITY_TOKEN": "eyJ.other.token",
    "SCCHECK_DEV_TOKEN_URL": "http://127.0.0.1:1/token",
}
USER = {
    "PATH": "/usr/bin:/bin", "HOME": "/home/builder", "GOFLAGS": "-mod=mod", "GOPRIVATE": "corp.example/*",
    "GOPROXY": "https://proxy.corp.example", "GONOSUMDB": "corp.example", "HTTPS_PROXY": "http://proxy:3128",
    "NO_PROXY": "corp.example", "DOCKER_HOST": "unix:///run/docker.sock", "CGO_ENABLED": "0",
    "MY_APP_SETTING": "kept",
}


def test_child_env_drops_every_known_secret_and_keeps_the_rest() -> None:
    env = child_env({**SECRETS, **USER})
    assert env == USER
    assert set(SECRETS) - {name for name in SECRETS if name in SECRET_ENV} == \
        {name for name in SECRETS if name.startswith("SCCHECK_")}


def test_child_env_extra_wins_and_the_default_base_is_ours(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SCCHECK_KEY_PASSWORD", "p")
    monkeypatch.setenv("sigstore_id_token", "lower-case is the same variable to most tools")
    monkeypatch.setenv("GOFLAGS", "-tags=x")
    env = child_env(extra={"GOFLAGS": "", "GOWORK": "off"})
    assert "SCCHECK_KEY_PASSWORD" not in env and "sigstore_id_token" not in env
    assert env["GOFLAGS"] == "" and env["GOWORK"] == "off" and env["PATH"]
    assert is_secret_env("sccheck_anything") and not is_secret_env("GOPRIVATE")


def _calls_without_scrubbed_env(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    bad: list[str] = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = ast.unparse(func)
        for node in ast.walk(func):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            if name not in {"subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call",
                            "subprocess.check_output", "os.system", "os.popen"} and \
                    not name.startswith(("os.exec", "os.spawn", "os.posix_spawn")):
                continue
            env = next((kw.value for kw in node.keywords if kw.arg == "env"), None)
            scrubbed = env is not None and (
                (isinstance(env, ast.Call) and ast.unparse(env.func) == "child_env")
                or (isinstance(env, ast.Name) and f"{env.id} = child_env(" in body)
                # a literal built from scratch (no inherited environment at all) is fine too
                or (isinstance(env, ast.Dict) and "environ" not in ast.unparse(env)
                    and "environ" not in body))
            if not scrubbed:
                bad.append(f"{path}:{node.lineno} {name}")
    return bad


def test_every_subprocess_in_the_library_runs_with_the_scrubbed_environment() -> None:
    files = sorted((PROJECT_ROOT / "supplychain").rglob("*.py"))
    assert len(files) > 50
    bad = [hit for path in files for hit in _calls_without_scrubbed_env(path)]
    assert bad == []


def test_the_checker_sees_a_call_that_inherits_everything(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os, subprocess\n"
                      "def f():\n    subprocess.run(['go'])\n"
                      "def g():\n    subprocess.run(['go'], env={**os.environ})\n"
                      "def h():\n    env = child_env()\n    subprocess.run(['go'], env=env)\n"
                      "def i():\n    subprocess.run(['x'], env={'PATH': '/bin'})\n"
                      "def j():\n    e = dict(os.environ)\n    subprocess.run(['x'], env={**e})\n")
    lines = [hit.split()[0].rsplit(":", 1)[1] for hit in _calls_without_scrubbed_env(sample)]
    assert lines == ["3", "5", "13"]


def test_docker_clients_blank_our_secrets_for_credential_helpers(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from supplychain.tools import blanked_secrets, docker_client

    monkeypatch.setenv("SCCHECK_REGISTRY_PASSWORD", "x")
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", "y")
    blanks = blanked_secrets()
    assert blanks["SCCHECK_REGISTRY_PASSWORD"] == blanks["SIGSTORE_ID_TOKEN"] == "" and "PATH" not in blanks
    calls = [(path, node) for path in sorted((PROJECT_ROOT / "supplychain").rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)
             and ast.unparse(node.func) in {"docker.from_env", "docker.DockerClient", "docker.APIClient"}]
    # one place makes engine clients, and the client it makes hands helpers the blanked values
    assert [path.name for path, _ in calls] == ["tools.py"]
    client = docker_client()
    try:
        assert client.api.credstore_env == blanks
    finally:
        client.close()
