"""Run the `run:` steps of .github/workflows/build-and-sign.yml, in order, with bash and a
GitHub-like environment, against the real dev-stack (its GitHub-shaped token endpoint serves
ACTIONS_ID_TOKEN_REQUEST_URL), Debian's docker-registry and cosign; then check what the job
wrote and that the image verifies with the identity a GitHub workflow has."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from supplychain import devstack
from supplychain.tools import PROJECT_ROOT, find_tool
from tests.analyzers.vulndb import build_vulndb
from tests.conftest import run_sccheck
from tests.helpers.devstack import DevStack, start_dev_stack

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "build-and-sign.yml"
REPOSITORY = "sccheck-dev/hello"          # the dev issuer's default GitHub claims
EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def evaluate(text: str, context: Mapping[str, Mapping[str, str]]) -> str:
    """The few expressions the workflow's env: uses: inputs.*, github.*, secrets.*."""

    def one(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).partition(".")
        if scope not in context or name not in context[scope]:
            raise AssertionError(f"the test cannot evaluate ${{{{ {match.group(1)} }}}}")
        return context[scope][name]

    return EXPR.sub(one, text)


def test_evaluator() -> None:
    ctx = {"inputs": {"path": "."}, "github": {"actor": "me"}, "secrets": {"GITHUB_TOKEN": "t"}}
    assert evaluate("${{ inputs.path }}/${{github.actor}}:${{ secrets.GITHUB_TOKEN }}", ctx) == "./me:t"
    with pytest.raises(AssertionError, match="cannot evaluate"):
        evaluate("${{ inputs.nope }}", ctx)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevStack, str]]:
    directory = tmp_path_factory.mktemp("workflow-dev-stack")
    dev = start_dev_stack(directory)
    try:
        info = devstack.up(directory, with_registry=True)
        assert info.registry
        yield dev, info.registry
    finally:
        dev.stop()


def _installable_checkout(dest: Path) -> Path:
    """The parts of this checkout pip needs, copied so the in-tree build leaves no trace here."""
    for name in ("pyproject.toml", "README.md"):
        if (PROJECT_ROOT / name).exists():
            shutil.copy2(PROJECT_ROOT / name, dest / name)
    shutil.copytree(PROJECT_ROOT / "supplychain", dest / "supplychain",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _throwaway_venv(dest: Path) -> Path:
    """A venv without pip whose site-packages see the project venv's (deps already satisfied)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    site = next((dest / "lib").glob("python3*/site-packages"))
    (site / "sccheck-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return dest / "bin"


def _workspace(dest: Path) -> Path:
    """What actions/checkout leaves: the caller's repository (examples/hello) with its history."""
    shutil.copytree(PROJECT_ROOT / "examples" / "hello", dest, ignore=shutil.ignore_patterns("dist"))
    git = ["git", "-C", str(dest), "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "release"], check=True)
    return dest


def _github_policy(dest: Path, dev: DevStack) -> Path:
    subject = re.escape(f"https://github.com/{REPOSITORY}/.github/workflows/release.yml@") + "refs/heads/.+"
    dest.write_text(f"""apiVersion: sccheck.dev/v1
kind: Policy
name: github-workflow-dev
identities:
  - issuer: '{dev.github_issuer}'
    subject: {{regexp: '{subject}'}}
    github:
      repository: {REPOSITORY}
      ref: refs/heads/main
signature: {{everyPlatform: true}}
attestations:
  provenance: {{commitPresent: true, sourceRepository: 'https://github.com/{REPOSITORY}'}}
  sbom: {{everyPlatform: true}}
  vulnerabilities: {{maxSeverity: medium, maxAge: 7d}}
  tests: {{allPassed: true}}
  harden: {{clean: true}}
""")
    return dest


@pytest.fixture(scope="module")
def job(stack: tuple[DevStack, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    dev, registry = stack
    tmp = tmp_path_factory.mktemp("workflow-run")
    workspace = _workspace(tmp / "workspace")
    policy = _github_policy(tmp / "policy.yaml", dev)
    venv_bin = _throwaway_venv(tmp / "venv")
    (tmp / "sccheck-src").mkdir()
    checkout = _installable_checkout(tmp / "sccheck-src")
    vulndb = build_vulndb(tmp / "vulndb")
    doc = yaml.safe_load(WORKFLOW.read_text())
    call = doc[True]["workflow_call"] if True in doc else doc["on"]["workflow_call"]
    inputs = {k: str(v.get("default", "")) for k, v in call["inputs"].items()}
    inputs.update({"path": ".", "image-repository": f"{registry}/{REPOSITORY}", "sccheck-spec": str(checkout),
                   "policy": str(policy), "trust-config": str(dev.trust_config), "vuln-db": str(vulndb)})
    sha = subprocess.run(["git", "-C", str(workspace), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    github = {"actor": "octocat", "repository": REPOSITORY, "sha": sha, "ref": "refs/heads/main"}
    context = {"inputs": inputs, "github": github, "secrets": {"GITHUB_TOKEN": "ghs-not-a-real-token"}}
    output, summary = tmp / "github_output", tmp / "step_summary"
    output.touch()
    summary.touch()
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("SCCHECK_", "SIGSTORE_", "GITHUB_", "ACTIONS_", "PIP_", "VIRTUAL_ENV"))}
    base_env.update({
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}", "HOME": os.environ.get("HOME", str(tmp)),
        "SCCHECK_TOOLS_BIN": os.environ.get("SCCHECK_TOOLS_BIN", str(PROJECT_ROOT / ".tools" / "bin")),
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_ACTOR": "octocat",
        "GITHUB_SHA": sha, "GITHUB_REF": "refs/heads/main", "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_WORKSPACE": str(workspace), "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/release.yml@refs/heads/main",
        # pip offline, no build isolation: the throwaway venv already sees every dependency through
        # its .pth; ignore-installed + no-deps so pip never tries to replace the project venv's copy
        "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_IGNORE_INSTALLED": "1", "PIP_NO_DEPS": "1",
        **dev.actions_env(),
    })
    ran: list[dict[str, Any]] = []
    failed = False
    for step in doc["jobs"]["build-and-sign"]["steps"]:
        if "run" not in step or (failed and step.get("if") != "always()"):
            continue
        env = {**base_env, **{k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()}}
        script = tmp / f"step-{len(ran)}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=workspace, env=env, capture_output=True, text=True, timeout=900)
        ran.append({"name": step.get("name"), "rc": proc.returncode, "stdout": proc.stdout,
                    "stderr": proc.stderr})
        failed = failed or proc.returncode != 0
    return {"ran": ran, "output": output.read_text(), "summary": summary.read_text(), "dev": dev,
            "registry": registry, "policy": policy, "sha": sha, "workspace": workspace}


def test_every_run_step_succeeds(job: dict[str, Any]) -> None:
    for r in job["ran"]:   # a failing step shows its own output first
        assert r["rc"] == 0, f"{r['name']}:\n{r['stdout'][-3000:]}\n{r['stderr'][-3000:]}"
    names = [r["name"] for r in job["ran"]]
    assert names == ["Install sccheck", "Build, push, sign, attest and verify", "Keep the report"]
    report = json.loads((job["workspace"] / "sccheck-report.json").read_text())
    assert report["ok"] is True


def _outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_outputs_and_step_summary(job: dict[str, Any]) -> None:
    out = _outputs(job["output"])
    assert set(out) == {"digest", "reference", "bundle-refs"}
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", out["digest"])
    assert out["reference"] == f"{job['registry']}/{REPOSITORY}@{out['digest']}"
    refs = json.loads(out["bundle-refs"])
    assert len(refs) == 8 and all(re.fullmatch(r"sha256:[0-9a-f]{64}", r) for r in refs)
    assert job["summary"].startswith("### sccheck build-and-sign: passed\n")
    assert f"Image: `{out['reference']}`" in job["summary"]
    assert "| sign | ok |" in job["summary"] and "8 signature/attestation referrer(s)" in job["summary"]


def test_image_verifies_with_the_github_workflow_identity(job: dict[str, Any]) -> None:
    dev: DevStack = job["dev"]
    ref = _outputs(job["output"])["reference"]
    verified = run_sccheck("--json", "verify", ref, "--policy", str(job["policy"]),
                           "--trust-config", str(dev.trust_config))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    signers = {v["signer"]["subject"] for v in json.loads(verified.stdout)["verified"]}
    assert signers == {dev.github_workflow_identity(REPOSITORY, "refs/heads/main")}
    cosign = find_tool("cosign")
    assert cosign
    common = ["--trusted-root", str(dev.trusted_root), "--certificate-oidc-issuer", dev.github_issuer,
              "--certificate-identity-regexp", f"^https://github\\.com/{REPOSITORY}/\\.github/workflows/.+$",
              "--certificate-github-workflow-repository", REPOSITORY,
              "--certificate-github-workflow-ref", "refs/heads/main", "--allow-insecure-registry"]
    proc = subprocess.run([cosign, "verify", *common, ref], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([cosign, "verify-attestation", *common, "--type", "slsaprovenance1", ref],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    statement = json.loads(base64.b64decode(json.loads(proc.stdout.splitlines()[0])["payload"]))
    build_def = statement["predicate"]["buildDefinition"]
    assert build_def["resolvedDependencies"][0] == {"uri": f"https://github.com/{REPOSITORY}",
                                                     "digest": {"gitCommit": job["sha"]}}
    assert statement["predicate"]["runDetails"]["builder"]["id"] == \
        f"https://github.com/{REPOSITORY}/.github/workflows/release.yml@refs/heads/main"
