"""`sccheck check` through the real CLI in a subprocess: exit codes 0/1/2/3, --json, files."""

from __future__ import annotations

import json

from tests.analyzers.conftest import FIXTURES
from tests.helpers.procs import free_port


def test_clean_module_exits_0_with_a_human_summary(sccheck, vulndb):
    proc = sccheck("check", str(FIXTURES / "clean"), "--vuln-db", str(vulndb))
    assert proc.returncode == 0, proc.stderr
    assert "result: PASSED: 0 finding(s) at or above the threshold (medium)" in proc.stdout
    for tool in ("vet", "staticcheck", "vuln", "race"):
        assert f"✓ {tool} (" in proc.stderr


def test_findings_above_threshold_exit_1_and_json_lists_them(sccheck, vulndb, tmp_path):
    sarif = tmp_path / "vet.sarif"
    proc = sccheck("--json", "check", str(FIXTURES / "vet_printf"), "--only", "vet",
                   "--vuln-db", str(vulndb), "--sarif", str(sarif), "--predicates-dir", str(tmp_path / "p"))
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["ok"], doc["verdict"], doc["exit_code"]) == (False, "failed", 1)
    assert [(f["tool"], f["rule"], f["location"]["path"], f["location"]["line"], f["fails"])
            for f in doc["findings"]] == [("vet", "printf", "main.go", 8, True)]
    assert [(t["tool"], t["status"]) for t in doc["tools"]] == [
        ("vet", "ok"), ("staticcheck", "skipped"), ("vuln", "skipped"), ("race", "skipped")]
    assert doc["outputs"] == [str(sarif), str(tmp_path / "p" / "test-result-vet.json"),
                              str(tmp_path / "p" / "predicates.json")]
    assert json.loads(sarif.read_text())["version"] == "2.1.0"


def test_raised_threshold_lets_findings_pass(sccheck, vulndb):
    proc = sccheck("check", str(FIXTURES / "vet_printf"), "--only", "vet", "--fail-on", "critical")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = sccheck("check", str(FIXTURES / "vuln_imported_not_called"), "--only", "vuln",
                   "--vuln-db", str(vulndb), "--fail-on", "low")
    assert proc.returncode == 1


def test_unreachable_vuln_db_is_a_tool_failure_exit_3(sccheck, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    proc = sccheck("--json", "check", str(FIXTURES / "clean"), "--only", "vuln", "--vuln-db", url)
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "incomplete"
    assert doc["tools"][0]["error"]["error"] == "ToolFailed"
    assert "tool failed: govulncheck failed: it could not scan" in proc.stderr
    assert url in proc.stderr


def test_missing_c_compiler_for_race_tests_exit_3(sccheck):
    proc = sccheck("check", str(FIXTURES / "clean"), "--only", "race", env={"CC": "/nonexistent/cc"})
    assert proc.returncode == 3
    assert "missing tool: the race detector needs a C compiler, and /nonexistent/cc is not installed" \
        in proc.stdout
    assert "fix:      install gcc" in proc.stdout


def test_usage_errors_exit_2(sccheck, tmp_path):
    proc = sccheck("check", str(tmp_path), "--only", "vet")
    assert proc.returncode == 2
    assert "is not a Go module" in proc.stderr
    proc = sccheck("check", str(FIXTURES / "clean"), "--only", "lint")
    assert proc.returncode == 2
    assert "unknown tool(s) in --only: lint" in proc.stderr
