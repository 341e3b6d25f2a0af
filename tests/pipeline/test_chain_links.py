"""The in-toto chain end to end: build-and-sign records and attests a link per step (real Go tools,
the dev-stack's Sigstore, Debian's docker-registry), and verify judges the policy's `steps:`."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from supplychain.attest.vocabulary import INTOTO_LINK
from supplychain.errors import Error
from supplychain.pipeline import run as pipeline
from supplychain.pipeline.config import PipelineRequest
from supplychain.policy.init import CHAIN_STARTER
from supplychain.signing import list_bundles
from supplychain.stores import open_store
from supplychain.tools import PROJECT_ROOT
from tests.conftest import run_sccheck
from tests.pipeline.conftest import PipelineStack
from tests.pipeline.test_precheck_gate import git_checkout

HELLO = PROJECT_ROOT / "examples" / "hello"
LINKED = ["check", "build", "sbom", "harden"]


def chain_policy(stack: PipelineStack, path: Path, steps: str = CHAIN_STARTER) -> Path:
    path.write_text(stack.policy.read_text() + steps)
    return path


@pytest.fixture(scope="module")
def linked(pipeline_stack: PipelineStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("linked")
    policy = chain_policy(pipeline_stack, work / "chain.yaml")
    started = time.monotonic()
    proc = run_sccheck("--json", "build-and-sign", str(git_checkout(HELLO, work / "hello")), "--repo",
                       f"{pipeline_stack.registry}/team/linked", "--tag", "v1",
                       "--vuln-db", str(pipeline_stack.vuln_db), "--policy", str(policy),
                       env=pipeline_stack.env())
    assert proc.returncode == 0, proc.stderr
    return {"report": json.loads(proc.stdout), "work": work, "seconds": time.monotonic() - started}


def test_every_step_attests_its_link_and_the_chain_verifies(linked: dict[str, Any],
                                                            pipeline_stack: PipelineStack) -> None:
    report = linked["report"]
    steps = report["steps"]
    attested = [a["name"] for a in steps["attest"]["result"]["attestations"]]
    assert [a for a in attested if a.startswith("link ")] == [f"link {s}" for s in LINKED]
    assert steps["verify"]["result"]["rules"]["steps"] == "pass"
    # the links are Sigstore bundles among the image's referrers, with the link predicate type
    store = open_store(report["reference"])
    links = list_bundles(store, report["digest"], predicate_type=INTOTO_LINK)
    assert len(links) == len(LINKED)
    proc = run_sccheck("--json", "verify", report["reference"], "--policy",
                       str(linked["work"] / "chain.yaml"), env=pipeline_stack.env())
    assert proc.returncode == 0, proc.stdout
    rule = next(r for r in json.loads(proc.stdout)["results"] if r["rule"] == "steps")
    assert rule["status"] == "pass" and len(rule["evidence"]) == len(LINKED)


def _verify_steps(pipeline_stack: PipelineStack, reference: str, policy: Path) -> dict[str, Any]:
    proc = run_sccheck("--json", "verify", reference, "--policy", str(policy), env=pipeline_stack.env())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    results: list[dict[str, Any]] = json.loads(proc.stdout)["results"]
    assert [r["rule"] for r in results if r["status"] != "pass"] == ["steps"]
    return next(r for r in results if r["rule"] == "steps")


def test_a_link_by_an_identity_the_layout_does_not_allow_fails(linked: dict[str, Any],
                                                               pipeline_stack: PipelineStack) -> None:
    other = CHAIN_STARTER.replace(
        "  check:\n",
        f"  check:\n    signers:\n      - issuer: '{pipeline_stack.stack.issuer}'\n"
        "        subject: someone-else@example.com\n", 1)
    policy = chain_policy(pipeline_stack, linked["work"] / "other-signer.yaml", other)
    rule = _verify_steps(pipeline_stack, linked["report"]["reference"], policy)
    assert rule["status"] == "fail"
    assert rule["found"].startswith("step check: the link is signed by ") and "someone-else" in rule["found"]


def test_a_missing_step_fails(linked: dict[str, Any], pipeline_stack: PipelineStack) -> None:
    policy = chain_policy(pipeline_stack, linked["work"] / "review.yaml", CHAIN_STARTER + "  review: {}\n")
    rule = _verify_steps(pipeline_stack, linked["report"]["reference"], policy)
    assert rule["status"] == "fail" and rule["found"] == "step review: no verified link"


def _edited_run(module: Path, stack: PipelineStack, policy: Path, repo: str, report: Path,
                monkeypatch: pytest.MonkeyPatch) -> Any:
    """build-and-sign with the step runner hooked: check edits main.go as it finishes, and build
    starts only after it."""
    for key, value in stack.env().items():
        monkeypatch.setenv(key, value)

    def check_then_edit(run: pipeline.Run) -> Any:
        out = pipeline.check_step(run)
        (module / "main.go").write_text((module / "main.go").read_text() + "\n// edited after check\n")
        return out

    table = tuple(dataclasses.replace(s, fn=check_then_edit) if s.name == "check" else
                  dataclasses.replace(s, after=("check",)) if s.name == "build" else s
                  for s in pipeline.STEPS)
    monkeypatch.setattr(pipeline, "STEPS", table)
    return pipeline.build_and_sign(PipelineRequest(str(module), f"{stack.registry}/{repo}", tag="v1",
                                                   policy=str(policy), vuln_db=str(stack.vuln_db),
                                                   report_file=str(report)))


def test_a_tree_edited_between_check_and_build_fails_naming_step_and_file(
        tmp_path: Path, pipeline_stack: PipelineStack, monkeypatch: pytest.MonkeyPatch) -> None:
    module = git_checkout(HELLO, tmp_path / "hello")
    policy = chain_policy(pipeline_stack, tmp_path / "chain.yaml")
    with pytest.raises(Error) as info:
        _edited_run(module, pipeline_stack, policy, "team/edited", tmp_path / "report.json", monkeypatch)
    # the gate judges the chain as verify does, on the links about to be signed: nothing is pushed
    doc = info.value.to_dict()
    assert doc["steps"]["gate"]["status"] == "failed" and doc["steps"]["push"]["status"] == "skipped"
    text = json.dumps(doc)
    assert "steps" in doc["message"] and "step build, materials src/main.go" in text, text[:3000]
    assert "from the materials of check" in text


def test_verify_names_the_step_and_file_of_a_pushed_broken_chain(
        tmp_path: Path, pipeline_stack: PipelineStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same edit, pushed and signed under a policy without steps: verify with the chain
    policy then fails the image, naming the step and the file."""
    module = git_checkout(HELLO, tmp_path / "hello")
    result = _edited_run(module, pipeline_stack, pipeline_stack.policy, "team/edited-pushed",
                         tmp_path / "report.json", monkeypatch)
    rule = _verify_steps(pipeline_stack, result.reference,
                         chain_policy(pipeline_stack, tmp_path / "chain.yaml"))
    assert rule["status"] == "fail"
    assert rule["found"].startswith("step build, materials src/main.go: sha256:"), rule["found"]
    assert rule["found"].endswith("from the materials of check")
    assert len(rule["evidence"]) == len(LINKED)


def test_a_multi_platform_chain_holds_for_the_index_and_each_platform(
        pipeline_stack: PipelineStack, tmp_path: Path) -> None:
    policy = chain_policy(pipeline_stack, tmp_path / "chain.yaml")
    proc = run_sccheck("--json", "build-and-sign", str(git_checkout(HELLO, tmp_path / "hello")), "--repo",
                       f"{pipeline_stack.registry}/team/linked-multi",
                       "--platform", "linux/amd64,linux/arm64", "--vuln-db", str(pipeline_stack.vuln_db),
                       "--policy", str(policy),
                       env=pipeline_stack.env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["steps"]["verify"]["result"]["rules"]["steps"] == "pass"
    repo = report["reference"].split("@", 1)[0]
    for platform, child in report["steps"]["build"]["result"]["platforms"].items():
        one = run_sccheck("--json", "verify", f"{repo}@{child}", "--policy", str(policy),
                          env=pipeline_stack.env())
        assert one.returncode == 0, (platform, one.stdout)
        rule = next(r for r in json.loads(one.stdout)["results"] if r["rule"] == "steps")
        assert rule["status"] == "pass" and len(rule["evidence"]) == len(LINKED)
