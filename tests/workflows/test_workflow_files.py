"""Structure of the reusable GitHub workflows and the GitLab / Tekton templates."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from supplychain.tools import find_tool
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _load(path: Path) -> Any:
    # PyYAML reads the key `on` as True (YAML 1.1); normalise it for the checks.
    doc = yaml.safe_load(path.read_text())
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def test_actionlint_accepts_every_workflow() -> None:
    actionlint = find_tool("actionlint")
    assert actionlint
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) >= 3
    result = subprocess.run([actionlint, *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["build-and-sign.yml", "promote.yml"])
def test_reusable_workflows_are_minimal_and_pinned(name: str) -> None:
    doc = _load(WORKFLOWS / name)
    assert list(doc["on"]) == ["workflow_call"]
    assert doc["permissions"] == {}
    for job in doc["jobs"].values():
        runs_sccheck = any("sccheck" in step.get("run", "") or "uses" in step for step in job["steps"])
        expected = {"id-token": "write", "packages": "write", "contents": "read"} if runs_sccheck else {}
        assert job["permissions"] == expected
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{step['uses']} is not pinned by commit SHA"
            if "run" in step:
                # inputs reach scripts through env:, never by ${{ }} interpolation (script injection)
                assert "${{" not in step["run"], step.get("name")


def test_build_and_sign_inputs_and_outputs() -> None:
    doc = _load(WORKFLOWS / "build-and-sign.yml")
    call = doc["on"]["workflow_call"]
    assert {"path", "image-repository", "platforms", "base", "policy", "go-version"} <= set(call["inputs"])
    assert call["inputs"]["image-repository"]["required"] is True
    assert {"digest", "reference", "bundle-refs"} <= set(call["outputs"])
    job = doc["jobs"]["build-and-sign"]
    chain = next(s for s in job["steps"] if s.get("id") == "chain")
    assert "sccheck --json" in chain["run"] and "build-and-sign" in chain["run"]
    for output in call["outputs"].values():
        step_output = re.search(r"jobs\.build-and-sign\.outputs\.([\w-]+)", output["value"])
        assert step_output and step_output.group(1) in job["outputs"]


def test_promote_workflow_fans_a_batch_out_over_a_shard_matrix() -> None:
    doc = _load(WORKFLOWS / "promote.yml")
    inputs = doc["on"]["workflow_call"]["inputs"]
    assert {"source", "destination", "batch", "shards", "policy"} <= set(inputs)
    jobs = doc["jobs"]
    assert jobs["promote"]["if"] == "inputs.batch == ''" and jobs["plan"]["if"] == "inputs.batch != ''"
    batch = jobs["batch"]
    assert batch["needs"] == "plan" and batch["strategy"]["fail-fast"] is False
    assert batch["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    plan_step = jobs["plan"]["steps"][0]
    assert "seq -s," in plan_step["run"] and plan_step["env"]["INPUT_SHARDS"] == "${{ inputs.shards }}"
    run = next(s for s in batch["steps"] if s.get("name") == "Promote this shard")
    assert run["env"]["SHARD"] == "${{ matrix.shard }}" and run["env"]["SHARDS"] == "${{ inputs.shards }}"
    assert '--shard "$SHARD/$SHARDS"' in run["run"] and '--journal "$journal"' in run["run"]
    assert "-ne 3" in run["run"]        # only "could not work" is retried, never a refusal


def test_tekton_promote_pipeline_fans_out_over_shards() -> None:
    task, pipeline = yaml.safe_load_all((ROOT / "pipelines" / "tekton-promote.yaml").read_text())
    assert (task["kind"], pipeline["kind"]) == ("Task", "Pipeline")
    params = {p["name"] for p in task["spec"]["params"]}
    text = yaml.safe_dump(task["spec"])
    assert set(re.findall(r"\$\(params\.([\w-]+)\)", text)) <= params
    results = {r["name"] for r in task["spec"]["results"]}
    assert set(re.findall(r"\$\(results\.([\w-]+)\.path\)", text)) == results
    script = task["spec"]["steps"][0]["script"]
    assert '--shard "$SHARD/$SHARDS"' in script and "--journal" in script and "-ne 3" in script
    (fan,) = pipeline["spec"]["tasks"]
    assert fan["taskRef"]["name"] == task["metadata"]["name"]
    matrix = {p["name"] for p in fan["matrix"]["params"]}
    given = {p["name"] for p in fan["params"]}
    assert matrix == {"shard"}
    assert matrix | given == params - {"builder-image"}     # every other Task param is passed on
    declared = {p["name"] for p in pipeline["spec"]["params"]}
    assert set(re.findall(r"\$\(params\.([\w-]+)", yaml.safe_dump(fan))) <= declared


def test_gitlab_template_uses_sigstore_id_token() -> None:
    doc = yaml.safe_load((ROOT / "pipelines" / "gitlab-ci.yml").read_text())
    job = doc["sccheck-build-and-sign"]
    assert job["stage"] in doc["stages"]
    assert job["id_tokens"]["SIGSTORE_ID_TOKEN"]["aud"] == "sigstore"
    assert any("sccheck --json" in line and "build-and-sign" in " ".join(job["script"])
               for line in job["script"])
    promote = doc["sccheck-promote"]
    assert promote["needs"] == ["sccheck-build-and-sign"]
    assert any("promote" in line and "--policy" in line for line in promote["script"])


def test_tekton_task_declares_what_it_uses() -> None:
    doc = yaml.safe_load((ROOT / "pipelines" / "tekton-task.yaml").read_text())
    assert doc["apiVersion"] == "tekton.dev/v1" and doc["kind"] == "Task"
    spec = doc["spec"]
    params = {p["name"] for p in spec["params"]}
    results = {r["name"] for r in spec["results"]}
    workspaces = {w["name"] for w in spec["workspaces"]}
    text = yaml.safe_dump(spec)
    assert set(re.findall(r"\$\(params\.([\w-]+)\)", text)) <= params
    assert set(re.findall(r"\$\(results\.([\w-]+)\.path\)", text)) == results == {"digest", "reference"}
    assert set(re.findall(r"\$\(workspaces\.([\w-]+)\.path\)", text)) <= workspaces
    for step in spec["steps"]:
        assert step["image"] and "sccheck" in step["script"]


TEMPLATES = [WORKFLOWS / "build-and-sign.yml", WORKFLOWS / "promote.yml",
             ROOT / "pipelines" / "gitlab-ci.yml", ROOT / "pipelines" / "tekton-task.yaml",
             ROOT / "pipelines" / "tekton-promote.yaml"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_install_sccheck_from_a_pinned_source_with_hashes(path: Path) -> None:
    """No template installs sccheck by name from an index (whoever registers the name would run
    code in release jobs); each builds it from a commit with scripts/ci-install."""
    text = path.read_text()
    assert not re.search(r"pip3? install[^\n]*sccheck", text), path.name
    assert "sccheck==" not in text and "SCCHECK_SPEC" not in text
    assert "scripts/ci-install" in text
    if path.parent.name == "pipelines":
        # the revision is checked to be a full commit before anything is fetched
        assert "[0-9a-f]{40}" in text and "rev-parse HEAD" in text


def test_ci_install_requires_hashes() -> None:
    script = (ROOT / "scripts" / "ci-install").read_text()
    assert "--require-hashes" in script and "requirements.lock" in script
    assert "--no-build-isolation" in script     # the hash-checked setuptools builds sccheck


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    zizmor = find_tool("zizmor")
    assert zizmor, "zizmor is a dev dependency (pip install -e '.[dev]')"
    result = subprocess.run([zizmor, "--offline", "--no-progress", str(WORKFLOWS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
