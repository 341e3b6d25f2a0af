"""The real `sccheck harden` CLI in a subprocess: exit codes, JSON, predicate file, manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from supplychain.attest.vocabulary import SCCHECK_HARDEN as PREDICATE_TYPE
from tests.harden.images import ImageSpec, build_hello, clean_image, write_image

MANIFESTS = Path(__file__).parent / "manifests"


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli-images")
    spec: ImageSpec = clean_image(build_hello(root))
    refs = {"clean": f"oci:{root / 'clean'}@{write_image(root / 'clean', spec)}"}
    bad = spec.copy()
    bad.config["User"] = ""
    bad.config["Env"].append("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE")
    refs["bad"] = f"oci:{root / 'bad'}@{write_image(root / 'bad', bad)}"
    return refs


def test_check_clean_image_exits_zero(sccheck, layouts: dict[str, str], tmp_path: Path) -> None:
    predicate = tmp_path / "harden.json"
    proc = sccheck("--json", "harden", "check", layouts["clean"], "--predicate-out", str(predicate))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is True and out["predicateType"] == PREDICATE_TYPE and out["findings"] == []
    doc = json.loads(predicate.read_text())
    assert set(doc) == {"scanner", "image", "scannedAt", "passed", "threshold", "findings", "summary"}
    assert doc["image"]["digest"] == layouts["clean"].rsplit("@", 1)[1]
    assert doc["passed"] is True and doc["threshold"] == "medium"
    assert doc["summary"]["bySeverity"] == {"info": 0, "low": 0, "medium": 0, "high": 0, "critical": 0}


def test_check_bad_image_exits_one_and_never_prints_the_secret(sccheck, layouts: dict[str, str],
                                                               tmp_path: Path) -> None:
    predicate = tmp_path / "harden.json"
    proc = sccheck("harden", "check", layouts["bad"], "--predicate-out", str(predicate))
    assert proc.returncode == 1
    assert "CRITICAL (1)" in proc.stdout and "HIGH (1)" in proc.stdout
    assert "SCH008" in proc.stdout and "SCH001" in proc.stdout and "FAILED" in proc.stdout
    assert "AKIAIOSFODNN7EXAMPLE" not in proc.stdout + proc.stderr + predicate.read_text()
    doc = json.loads(predicate.read_text())
    assert [(f["rule"], f["severity"]) for f in doc["findings"]] == [("SCH001", "high"),
                                                                    ("SCH008", "critical")]
    assert doc["passed"] is False and doc["summary"]["failing"] == 2
    # Allowlisting both rules makes it pass; a malformed allow entry is a usage error (2).
    ok = sccheck("harden", "check", layouts["bad"], "--allow", "rule:SCH001", "--allow", "rule:SCH008")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 allowlisted" in ok.stdout
    bad = sccheck("harden", "check", layouts["bad"], "--allow", "SCH001")
    assert bad.returncode == 2 and "path:GLOB, rule:SCHnnn or value:REGEX" in bad.stderr


def test_check_critical_threshold_and_missing_image(sccheck, layouts: dict[str, str], tmp_path: Path) -> None:
    proc = sccheck("harden", "check", layouts["bad"], "--threshold", "critical", "--allow", "rule:SCH008")
    assert proc.returncode == 0 and "PASSED: 0 finding(s) at or above critical" in proc.stdout
    missing = sccheck("harden", "check", f"oci:{tmp_path / 'nothing'}")
    assert missing.returncode == 3 and "is not an OCI layout" in missing.stderr


def test_k8s_generate_then_check(sccheck, layouts: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "deploy.yaml"
    proc = sccheck("harden", "k8s", layouts["clean"], "--repository", "localhost:5000/team/hello",
                   "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    docs = list(yaml.safe_load_all(out.read_text()))
    assert [d["kind"] for d in docs] == ["Deployment", "NetworkPolicy"]
    checked = sccheck("--json", "harden", "k8s", "--check", str(out))
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["violations"] == 0
    root = sccheck("harden", "k8s", layouts["bad"], "--repository", "localhost:5000/team/hello")
    assert root.returncode == 1 and "runs as root" in root.stderr and root.stdout == ""
    tag = sccheck("harden", "k8s", "localhost:5000/team/hello:v1")
    assert tag.returncode == 2 and "not pinned by digest" in tag.stderr


def test_k8s_check_violating_manifest(sccheck) -> None:
    proc = sccheck("harden", "k8s", "--check", str(MANIFESTS / "deployment_privileged.yaml"))
    assert proc.returncode == 1
    assert "[baseline] privileged: spec.template.spec.containers[0].securityContext.privileged" in proc.stdout
    as_json = json.loads(sccheck("--json", "harden", "k8s", "--check",
                                 str(MANIFESTS / "job_run_as_root.yaml")).stdout)
    assert as_json["ok"] is False and as_json["violations"] == 3
    assert as_json["workloads"][0]["violations"][0] == {
        "control": "runAsNonRoot", "level": "restricted",
        "path": "spec.template.spec.securityContext.runAsNonRoot", "message": "must be true, found false"}
