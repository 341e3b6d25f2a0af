"""SARIF 2.1.0 from a check result: one run per tool that ran, for GitHub code scanning.

Every result has a ruleId, a level, a message and one physical location relative to
`%SRCROOT%` (the module root); vulnerabilities that no source line explains point at the
`require` line of go.mod (or at the binary in binary mode). Partial fingerprints are the
findings' fingerprints (no line numbers), so alerts survive line moves. A suppressed finding
is still a result, with SARIF `suppressions` (kind `external` for sccheck.yaml and the
baseline, `inSource` for a `//lint:ignore` directive, and the reason as `justification`).
A tool that failed still gets a run, with `executionSuccessful: false` and its diagnostics as
a notification.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supplychain import __version__
from supplychain.analyzers.base import write_json_atomic
from supplychain.analyzers.model import CheckResult, Finding, Severity, ToolRun

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

DRIVERS = {
    "vet": ("go vet", "https://pkg.go.dev/cmd/vet"),
    "staticcheck": ("staticcheck", "https://staticcheck.dev/docs/checks/"),
    "vuln": ("govulncheck", "https://go.dev/security/vuln/"),
    "race": ("go test -race", "https://go.dev/doc/articles/race_detector"),
}

_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note", Severity.INFO: "note"}
# GitHub's security-severity scale for vulnerabilities (critical >= 9, high >= 7, medium >= 4).
_SECURITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "7.5", Severity.MEDIUM: "5.0",
             Severity.LOW: "3.0", Severity.INFO: "1.0"}


def _rule(finding: Finding) -> dict[str, Any]:
    name, home = DRIVERS[finding.tool]
    rule: dict[str, Any] = {"id": finding.rule, "name": finding.rule.replace("-", "_"),
                            "shortDescription": {"text": f"{name}: {finding.rule}"},
                            "helpUri": home,
                            "properties": {"tags": [finding.tool]}}
    vuln = finding.vulnerability
    if vuln is not None:
        rule["shortDescription"] = {"text": vuln.summary or vuln.id}
        rule["fullDescription"] = {"text": f"{vuln.id} ({', '.join(vuln.aliases)}) in {vuln.module}"}
        rule["helpUri"] = vuln.url or f"https://pkg.go.dev/vuln/{vuln.id}"
        rule["properties"]["tags"] = ["security", "vulnerability"]
    if finding.tool == "staticcheck":
        rule["helpUri"] = f"https://staticcheck.dev/docs/checks/#{finding.rule}"
    return rule


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    loc = finding.location
    region: dict[str, Any] = {}
    if loc and loc.line:
        region = {"startLine": loc.line}
        if loc.column:
            region["startColumn"] = loc.column
        if loc.end_line >= loc.line and loc.end_line:
            region["endLine"] = loc.end_line
            if loc.end_column and (loc.end_line > loc.line or loc.end_column > loc.column):
                region["endColumn"] = loc.end_column
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc.path if loc else "go.mod",
                                                     "uriBaseId": "%SRCROOT%"}}
    if region:
        physical["region"] = region
    result: dict[str, Any] = {
        "ruleId": finding.rule, "ruleIndex": rule_index, "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {"sccheckFinding/v2": finding.fingerprint},
        "properties": {"severity": finding.severity.value},
    }
    if finding.suppressed is not None:
        mark = finding.suppressed
        props = {"source": mark.source} | ({"expires": mark.expires} if mark.expires else {})
        result["suppressions"] = [{"kind": mark.kind, "status": "accepted",
                                   "justification": mark.justification, "properties": props}]
    if finding.vulnerability is not None:
        v = finding.vulnerability
        result["properties"].update({"security-severity": _SECURITY[finding.severity],
                                     "reachable": v.reachable, "scanLevel": v.scan_level,
                                     "aliases": list(v.aliases), "fixedVersion": v.fixed_version})
    if finding.test:
        result["properties"]["test"] = finding.test
    return result


def _run(run: ToolRun, root: str) -> dict[str, Any]:
    name, home = DRIVERS[run.tool]
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for finding in run.findings:
        if finding.rule not in index:
            index[finding.rule] = len(rules)
            rules.append(_rule(finding))
        results.append(_result(finding, index[finding.rule]))
    driver: dict[str, Any] = {"name": name, "informationUri": home, "rules": rules}
    if run.output and run.output.version:
        driver["version"] = run.output.version[:100]
    invocation: dict[str, Any] = {"executionSuccessful": run.status == "ok"}
    if run.output:
        invocation["commandLine"] = " ".join(run.output.command)
    if run.status == "failed":
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": run.diagnostics or "the tool failed"}}]
    return {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"sccheck/{run.tool}/"},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(root).as_uri() + "/"}},
        "invocations": [invocation],
        "results": results,
        "properties": {"sccheckVersion": __version__, "seconds": round(run.seconds, 3)},
    }


def to_sarif(result: CheckResult) -> dict[str, Any]:
    runs = [_run(r, result.root) for r in result.tools if r.status != "skipped"]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}


def write(result: CheckResult, path: Path) -> None:
    write_json_atomic(path, to_sarif(result))
