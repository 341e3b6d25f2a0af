"""build-and-sign stops before anything is built, pushed or signed when the policy cannot pass:
on the real dev-stack and registry, with the registry's own API as the witness."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import requests

from supplychain.tools import PROJECT_ROOT
from tests.conftest import run_sccheck
from tests.pipeline.conftest import PipelineStack

HELLO = PROJECT_ROOT / "examples" / "hello"


def registry_contents(registry: str) -> dict[str, list[str]]:
    """Every repository and its tags, through the distribution API."""
    catalog = requests.get(f"http://{registry}/v2/_catalog?n=1000", timeout=10)
    catalog.raise_for_status()
    out: dict[str, list[str]] = {}
    for repo in catalog.json().get("repositories") or []:
        tags = requests.get(f"http://{registry}/v2/{repo}/tags/list", timeout=10)
        out[repo] = sorted(tags.json().get("tags") or []) if tags.status_code == 200 else []
    return out


def git_checkout(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fixture"]):
        subprocess.run(["git", "-C", str(dst), *args], check=True, env=env, capture_output=True)
    return dst


def _run(pipeline_stack: PipelineStack, module: Path, repo: str, *extra: str) -> tuple[Any, Any]:
    proc = run_sccheck("--json", "build-and-sign", str(module), "--repo", f"{pipeline_stack.registry}/{repo}",
                       "--vuln-db", str(pipeline_stack.vuln_db), *extra, env=pipeline_stack.env())
    return proc, json.loads(proc.stdout)


def test_source_without_git_stops_before_push_and_sign(tmp_path: Path, pipeline_stack: PipelineStack) -> None:
    module = tmp_path / "nogit"
    shutil.copytree(HELLO, module)
    before = registry_contents(pipeline_stack.registry)
    proc, doc = _run(pipeline_stack, module, "team/nogit", "--policy", str(pipeline_stack.policy))
    assert proc.returncode == 1, proc.stderr
    assert doc["ok"] is False and doc["kind"] == "policy cannot pass"
    assert doc["message"].endswith("(provenance): nothing was built, pushed or signed")
    verdicts = {v["rule"]: v["status"] for v in doc["precheck"]["verdicts"]}
    assert verdicts["identity"] == "pass" and verdicts["provenance"] == "fail"
    assert verdicts["vulnerabilities"] == "later"
    assert "git init && git add -A && git commit" in doc["fix"]
    assert registry_contents(pipeline_stack.registry) == before
    assert "team/nogit" not in before
    assert "✓ check" not in proc.stderr and "push" not in proc.stderr.split("policy cannot pass")[0]


def test_wrong_identity_stops_before_push_and_sign(tmp_path: Path, pipeline_stack: PipelineStack) -> None:
    module = git_checkout(HELLO, tmp_path / "hello")
    made = run_sccheck("policy", "init", "--identity", "release@example.com", "--issuer",
                       pipeline_stack.stack.issuer)
    policy = tmp_path / "other.yaml"
    policy.write_text(made.stdout)
    before = registry_contents(pipeline_stack.registry)
    proc, doc = _run(pipeline_stack, module, "team/wrongid", "--policy", str(policy))
    assert proc.returncode == 1, proc.stderr
    assert doc["kind"] == "policy cannot pass"
    failed = [v for v in doc["precheck"]["verdicts"] if v["status"] == "fail"]
    assert [v["rule"] for v in failed] == ["identity"]
    assert pipeline_stack.stack.identity in failed[0]["found"]
    assert "subject 'release@example.com'" in failed[0]["found"]
    assert f"sccheck policy init --identity '{pipeline_stack.stack.identity}' --issuer " \
           f"'{pipeline_stack.stack.issuer}'" in doc["fix"]
    assert registry_contents(pipeline_stack.registry) == before


def test_default_policy_against_the_dev_stack_says_what_to_do(tmp_path: Path,
                                                              pipeline_stack: PipelineStack) -> None:
    module = git_checkout(HELLO, tmp_path / "hello")
    before = registry_contents(pipeline_stack.registry)
    proc = run_sccheck("build-and-sign", str(module), "--repo", f"{pipeline_stack.registry}/team/default",
                       env=pipeline_stack.env())
    assert proc.returncode == 1
    text = proc.stderr
    assert "policy cannot pass: the policy default cannot pass for this run (identity)" in text
    assert "the default policy (policies/default.yaml) expects the GitHub Actions issuer " \
           "https://token.actions.githubusercontent.com" in text
    assert f"sccheck policy init --identity '{pipeline_stack.stack.identity}'" in text
    assert registry_contents(pipeline_stack.registry) == before


def test_vulnerability_the_policy_refuses_stops_before_push(tmp_path: Path,
                                                            pipeline_stack: PipelineStack) -> None:
    """The team accepted a reachable vulnerability in its check; the release policy did not. The
    gate judges the vuln predicate about to be signed with verify's own rules, before the push."""
    module = git_checkout(PROJECT_ROOT / "tests" / "analyzers" / "fixtures" / "vuln_called", tmp_path / "vc")
    (module / "sccheck.yaml").write_text(
        "check:\n  only: [vet, vuln]\n  suppress:\n"
        "    - {rule: GO-2021-0113, reason: the input is a constant, expires: 2999-01-01}\n")
    before = registry_contents(pipeline_stack.registry)
    proc, doc = _run(pipeline_stack, module, "team/vulncalled", "--policy", str(pipeline_stack.policy))
    assert proc.returncode == 1, proc.stderr
    assert doc["kind"] == "policy cannot pass"
    assert doc["message"].endswith("(vulnerabilities): nothing was pushed or signed")
    steps = doc["steps"]
    assert (steps["check"]["status"], steps["gate"]["status"]) == ("ok", "failed")
    assert {steps[s]["status"] for s in ("push", "sign", "attest", "verify")} == {"skipped"}
    failed = [v for v in doc["precheck"]["verdicts"] if v["status"] == "fail"]
    assert [v["rule"] for v in failed] == ["vulnerabilities"]
    assert "GO-2021-0113 (high) in golang.org/x/text is above medium and not allowlisted" \
        in failed[0]["found"]
    assert "attestations.vulnerabilities.allow" in failed[0]["fix"]
    assert registry_contents(pipeline_stack.registry) == before
