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
    """What `actions/checkout` of sccheck at the pinned commit leaves: the files the install step
    uses, copied so the in-tree build leaves no trace in this checkout."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "requirements.lock"):
        shutil.copy2(PROJECT_ROOT / name, dest / name)
    (dest / "scripts").mkdir()
    shutil.copy2(PROJECT_ROOT / "scripts" / "ci-install", dest / "scripts" / "ci-install")
    shutil.copytree(PROJECT_ROOT / "supplychain", dest / "supplychain",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _step_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _token_claims(env: Mapping[str, str]) -> dict[str, Any]:
    """The claims of a token from the runner's endpoint (here the dev stack's GitHub-shaped one)."""
    import requests

    resp = requests.get(env["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=sccheck-install", timeout=30,
                        headers={"Authorization": "bearer " + env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]})
    resp.raise_for_status()
    body = resp.json()["value"].split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims


def _checkout_sccheck(step: Mapping[str, Any], context: Mapping[str, Mapping[str, str]],
                      workspace: Path, claims: Mapping[str, Any]) -> None:
    """Stand in for the `uses: actions/checkout` of sccheck itself: it must ask for the revision
    the job's token names (the reusable workflow's own repository and commit)."""
    with_ = step.get("with") or {}
    repository = evaluate(str(with_["repository"]), context)
    ref = evaluate(str(with_["ref"]), context)
    assert repository == claims["job_workflow_ref"].split("/.github/workflows/", 1)[0]
    assert ref == claims["job_workflow_sha"]
    assert with_.get("persist-credentials") is False
    _installable_checkout(workspace / str(with_["path"]))


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
    runner_temp = tmp / "runner-temp"
    runner_temp.mkdir()
    vulndb = build_vulndb(tmp / "vulndb")
    doc = yaml.safe_load(WORKFLOW.read_text())
    call = doc[True]["workflow_call"] if True in doc else doc["on"]["workflow_call"]
    inputs = {k: str(v.get("default", "")) for k, v in call["inputs"].items()}
    inputs.update({"path": ".", "image-repository": f"{registry}/{REPOSITORY}",
                   "policy": str(policy), "trust-config": str(dev.trust_config), "vuln-db": str(vulndb)})
    sha = subprocess.run(["git", "-C", str(workspace), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    github = {"actor": "octocat", "repository": REPOSITORY, "sha": sha, "ref": "refs/heads/main"}
    context = {"inputs": inputs, "github": github, "secrets": {"GITHUB_TOKEN": "ghs-not-a-real-token"}}
    output, summary = tmp / "github_output", tmp / "step_summary"
    output.touch()
    summary.touch()
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("SCCHECK_", "SIGSTORE_", "GITHUB_", "ACTIONS_", "VIRTUAL_ENV"))}
    base_env.update({
        "PATH": os.environ.get("PATH", ""), "RUNNER_TEMP": str(runner_temp),
        "HOME": os.environ.get("HOME", str(tmp)),
        "SCCHECK_TOOLS_BIN": os.environ.get("SCCHECK_TOOLS_BIN", str(PROJECT_ROOT / ".tools" / "bin")),
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_ACTOR": "octocat",
        "GITHUB_SHA": sha, "GITHUB_REF": "refs/heads/main", "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_WORKSPACE": str(workspace), "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/release.yml@refs/heads/main",
        **dev.actions_env(),
    })
    path_file = tmp / "github_path"
    path_file.touch()
    base_env["GITHUB_PATH"] = str(path_file)
    claims = _token_claims(base_env)
    ran: list[dict[str, Any]] = []
    outputs_by_step: dict[str, dict[str, str]] = {}
    failed = False
    steps_context: dict[str, str] = {}
    context["steps"] = steps_context
    for step in doc["jobs"]["build-and-sign"]["steps"]:
        if failed and step.get("if") != "always()":
            continue
        if str(step.get("uses", "")).startswith("actions/checkout@") and (step.get("with") or {}).get("path"):
            _checkout_sccheck(step, context, workspace, claims)
            continue
        if "run" not in step:
            continue
        output.write_text("")
        env = {**base_env, **{k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()}}
        # what earlier steps added to GITHUB_PATH comes first, as on a runner
        added = [line for line in path_file.read_text().splitlines() if line]
        env["PATH"] = ":".join([*reversed(added), base_env["PATH"]])
        script = tmp / f"step-{len(ran)}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=workspace, env=env, capture_output=True, text=True, timeout=900)
        ran.append({"name": step.get("name"), "rc": proc.returncode, "stdout": proc.stdout,
                    "stderr": proc.stderr})
        written = _step_outputs(output)
        if step.get("id"):
            steps_context.update({f"{step['id']}.outputs.{k}": v for k, v in written.items()})
        outputs_by_step[str(step.get("id") or step.get("name"))] = written
        failed = failed or proc.returncode != 0
    chain = outputs_by_step.get("chain", {})
    return {"ran": ran, "output": "".join(f"{k}={v}\n" for k, v in chain.items()),
            "revision": outputs_by_step.get("sccheck-revision", {}), "claims": claims,
            "runner_temp": runner_temp, "summary": summary.read_text(), "dev": dev,
            "registry": registry, "policy": policy, "sha": sha, "workspace": workspace}


def test_every_run_step_succeeds(job: dict[str, Any]) -> None:
    for r in job["ran"]:   # a failing step shows its own output first
        assert r["rc"] == 0, f"{r['name']}:\n{r['stdout'][-3000:]}\n{r['stderr'][-3000:]}"
    names = [r["name"] for r in job["ran"]]
    assert names == ["Find sccheck's revision", "Install sccheck", "Build, push, sign, attest and verify",
                     "Keep the report"]
    report = json.loads((job["workspace"] / "sccheck-report.json").read_text())
    assert report["ok"] is True


def _norm(name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_sccheck_is_installed_from_the_pinned_revision_with_hashes(job: dict[str, Any]) -> None:
    """The install step runs sccheck from the commit the job's token names, deps hash-checked."""
    claims = job["claims"]
    assert job["revision"] == {"repository": claims["job_workflow_ref"].split("/.github/workflows/")[0],
                               "sha": claims["job_workflow_sha"]}
    venv = job["runner_temp"] / "sccheck"
    assert (venv / "bin" / "sccheck").is_file()
    assert not (job["workspace"] / ".sccheck-src").exists()     # moved out of the caller's tree
    lock = (PROJECT_ROOT / "requirements.lock").read_text()
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^ \\]+)", lock, flags=re.MULTILINE))
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    installed = {_norm(d["name"]): d["version"] for d in json.loads(listed)}
    for name, version in pinned.items():
        assert installed.get(_norm(name)) == version, name
    extra = set(installed) - {_norm(n) for n in pinned} - {"sccheck", "pip"}
    assert not extra, f"installed but not in requirements.lock: {sorted(extra)}"


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    import tomllib

    lock = (PROJECT_ROOT / "requirements.lock").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==", lock, flags=re.MULTILINE)
    names = {_norm(n) for n in pins}
    deps = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name = _norm(re.split(r"[<>=!\[ ;]", dep, maxsplit=1)[0])
        assert name in names, f"{name} is a dependency but not in requirements.lock (run scripts/lock)"
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", lock.split("\n\n", 1)[1])
    assert all("--hash=sha256:" in b for b in blocks if "==" in b)


def _outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_outputs_and_step_summary(job: dict[str, Any]) -> None:
    out = _outputs(job["output"])
    assert set(out) == {"digest", "reference", "bundle-refs"}
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", out["digest"])
    assert out["reference"] == f"{job['registry']}/{REPOSITORY}@{out['digest']}"
    refs = json.loads(out["bundle-refs"])
    assert len(refs) == 12 and all(re.fullmatch(r"sha256:[0-9a-f]{64}", r) for r in refs)
    assert job["summary"].startswith("### sccheck build-and-sign: passed\n")
    assert f"Image: `{out['reference']}`" in job["summary"]
    assert "| sign | ok |" in job["summary"] and "12 signature/attestation referrer(s)" in job["summary"]


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
    assert build_def["resolvedDependencies"][0] == {
        "uri": f"git+https://github.com/{REPOSITORY}@refs/heads/main", "digest": {"gitCommit": job["sha"]}}
    assert statement["predicate"]["runDetails"]["builder"]["id"] == \
        f"https://github.com/{REPOSITORY}/.github/workflows/release.yml@refs/heads/main"
