"""The skeleton's contract: CLI, error rendering, no click in the library, real services up."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import requests
from click.testing import CliRunner

from supplychain.cli import cli
from supplychain.cli._common import not_built, pass_options
from supplychain.errors import CheckFailed, Error, RegistryError, UsageError
from tests.conftest import ROOT

CONTRACT = ["build", "sbom", "check", "sign", "attest", "verify", "promote", "build-and-sign",
            "harden", "copy", "generate-key-pair", "policy", "dev-stack"]


def test_library_never_imports_click() -> None:
    offenders = []
    for path in (ROOT / "supplychain").rglob("*.py"):
        rel = path.relative_to(ROOT / "supplychain")
        if rel.parts[0] in ("cli", "__main__.py"):  # the CLI and its entry point
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "click" or n.startswith("click.") or n.startswith("supplychain.cli") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
    # And at run time: importing every library module leaves click unloaded.
    modules = []
    for path in sorted((ROOT / "supplychain").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if len(parts) > 1 and parts[1] in ("cli", "__main__"):
            continue
        modules.append(".".join(parts))
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('click' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_help_lists_every_contract_command(sccheck) -> None:
    result = sccheck("--help")
    assert result.returncode == 0, result.stderr
    for command in CONTRACT:
        assert f"  {command} " in result.stdout or f"  {command}\n" in result.stdout, command


def test_version(sccheck) -> None:
    result = sccheck("--version")
    assert result.returncode == 0 and "sccheck, version" in result.stdout


def test_unknown_option_is_a_usage_error(sccheck) -> None:
    result = sccheck("--no-such-flag")
    assert result.returncode == 2
    assert "no such option" in result.stderr.lower()


def test_diagnostics_name_expected_found_and_fix() -> None:
    err = RegistryError("push refused", expected="201 Created", found="403 DENIED",
                        fix="check the credentials for the repository", facts={"registry": "r.example"})
    text = err.diagnostics()
    assert text.splitlines()[0] == "registry error: push refused"
    assert "expected: 201 Created" in text and "found:    403 DENIED" in text
    assert "registry: r.example" in text and "fix:      check the credentials" in text
    assert err.exit_code == 3
    assert CheckFailed("x").exit_code == 1 and UsageError("x").exit_code == 2


def _demo_group(exc: Error | None) -> click.Group:
    group = click.Group("demo", callback=cli.callback, params=cli.params)

    @group.command("boom")
    @pass_options
    def boom(opts):  # type: ignore[no-untyped-def]
        from supplychain.cli._common import run_guarded

        def raise_it():  # type: ignore[no-untyped-def]
            assert exc is not None
            raise exc

        run_guarded(opts, raise_it)

    @group.command("todo")
    @pass_options
    def todo(opts):  # type: ignore[no-untyped-def]
        not_built(opts, "todo", "issue 99")

    return group


@pytest.mark.parametrize("exc,code", [(CheckFailed("image unsigned"), 1), (UsageError("bad flag"), 2),
                                      (RegistryError("registry down"), 3)])
def test_errors_exit_with_their_code_and_json(exc: Error, code: int) -> None:
    runner = CliRunner()
    result = runner.invoke(_demo_group(exc), ["--json", "boom"])
    assert result.exit_code == code
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["message"] == exc.message and doc["exit_code"] == code


def test_traceback_only_with_verbose() -> None:
    runner = CliRunner()
    quiet = runner.invoke(_demo_group(RegistryError("down")), ["boom"])
    loud = runner.invoke(_demo_group(RegistryError("down")), ["--verbose", "boom"])
    assert "Traceback" not in quiet.stderr and "registry error: down" in quiet.stderr
    assert "Traceback" in loud.stderr


def test_unbuilt_command_says_so_and_exits_3() -> None:
    result = CliRunner().invoke(_demo_group(None), ["todo"])
    assert result.exit_code == 3
    assert "not built yet" in result.stderr and "issue 99" in result.stderr


# -- the real services of the harness --------------------------------------------------------

def _push_and_pull(base: str, repo: str, auth: tuple[str, str] | None = None) -> None:
    blob = b"sccheck harness blob\n"
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    start = requests.post(f"{base}/v2/{repo}/blobs/uploads/", auth=auth, timeout=10)
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    put = requests.put(f"{location}{sep}digest={digest}", data=blob, auth=auth, timeout=10,
                       headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 201, put.text
    config = b"{}"
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    start = requests.post(f"{base}/v2/{repo}/blobs/uploads/", auth=auth, timeout=10)
    location = start.headers["Location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    assert requests.put(f"{location}{sep}digest={config_digest}", data=config, auth=auth,
                        timeout=10).status_code == 201
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest,
                    "size": len(blob)}],
    }).encode()
    mdigest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    put = requests.put(f"{base}/v2/{repo}/manifests/v1", data=manifest, auth=auth, timeout=10,
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert put.status_code == 201, put.text
    got = requests.get(f"{base}/v2/{repo}/manifests/v1", auth=auth, timeout=10,
                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == mdigest.split(":")[1]
    pulled = requests.get(f"{base}/v2/{repo}/blobs/{digest}", auth=auth, timeout=10)
    assert pulled.status_code == 200 and pulled.content == blob


def test_distribution_registry_push_pull(registry) -> None:
    _push_and_pull(registry.url, "harness/plain")


def test_referrers_registry_push_pull_and_referrers_api(referrers_registry) -> None:
    _push_and_pull(referrers_registry.url, "harness/referrers")
    empty = "sha256:" + "0" * 64
    resp = requests.get(f"{referrers_registry.url}/v2/harness/referrers/referrers/{empty}", timeout=10)
    assert resp.status_code == 200
    assert resp.json()["manifests"] == []


def test_auth_registry_requires_credentials(auth_registry) -> None:
    anon = requests.get(f"{auth_registry.url}/v2/", timeout=10)
    assert anon.status_code == 401 and "Basic" in anon.headers.get("WWW-Authenticate", "")
    _push_and_pull(auth_registry.url, "harness/auth", (auth_registry.username, auth_registry.password))


def test_distribution_has_no_referrers_api(registry) -> None:
    empty = "sha256:" + "0" * 64
    resp = requests.get(f"{registry.url}/v2/harness/plain/referrers/{empty}", timeout=10)
    assert resp.status_code == 404


@pytest.mark.docker
def test_docker_engine_runs_a_locally_built_container(docker_client, tmp_path: Path) -> None:
    """No image can be pulled here: build a scratch image from a static Go binary and run it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/echo\n\ngo 1.26\n")
    program = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("from-container") }\n'
    (src / "main.go").write_text(program)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    subprocess.run(["go", "build", "-trimpath", "-o", str(ctx / "echo"), "."], cwd=src, check=True,
                   env={**os.environ, "CGO_ENABLED": "0"})
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY echo /echo\nENTRYPOINT [\"/echo\"]\n")
    image, _ = docker_client.images.build(path=str(ctx), tag="sccheck-harness/echo:test", rm=True)
    try:
        out = docker_client.containers.run(image.id, remove=True, network_mode="none")
        assert out.strip() == b"from-container"
    finally:
        docker_client.images.remove(image.id, force=True)


def test_commands_load_lazily() -> None:
    """Starting the CLI imports no command's library: `sccheck sign` never pays for Docker or SBOM code."""
    code = ("import sys; from supplychain.cli import cli, COMMANDS\n"
            "heavy = [m for m in ('requests', 'docker', 'sigstore', 'cyclonedx', 'supplychain.build')"
            " if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
    from supplychain.cli import COMMANDS, LazyGroup

    group = cli
    assert isinstance(group, LazyGroup)
    ctx = click.Context(group)
    for name in COMMANDS:
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name
    assert group.get_command(ctx, "no-such-command") is None


def test_not_a_go_module_is_a_usage_error_for_every_command(tmp_path: Path) -> None:
    """The same directory gets the same answer from build, check, sbom and build-and-sign."""
    from tests.conftest import run_sccheck

    plain = tmp_path / "notes"
    plain.mkdir()
    (plain / "README").write_text("not Go\n")
    commands = [["build", str(plain), "--output", f"oci:{tmp_path / 'out'}"], ["check", str(plain)],
                ["sbom", str(plain)], ["build-and-sign", str(plain), "--repo", "127.0.0.1:1/x"]]
    for argv in commands:
        proc = run_sccheck("--json", *argv)
        assert proc.returncode == 2, (argv, proc.stderr)
        doc = json.loads(proc.stdout)
        assert (doc["kind"], doc["message"]) == ("usage error", f"{plain} is not a Go module"), argv
