"""SARIF 2.1.0 from a check result: one run per tool that ran, for GitHub code scanning.

Shaped for GitHub code scanning (what its SARIF Multitool rules ask, `--rule-kind "Sarif;Gh"`):
every rule has short and full descriptions, `help` and a default level; vulnerability rules
carry `security-severity` (GitHub reads it from rules, not results). Every result has a ruleId,
a level, a message and one location whose URI is relative to the repository root (git's top
level, or `--sarif-root`), so a module in `services/api/` reports `services/api/main.go`:
GitHub ignores `originalUriBaseIds`. Vulnerabilities that no source line explains point at the
`require` line of go.mod (or at the binary in binary mode). Partial fingerprints are the
findings' fingerprints (no line numbers), stable across runs and line moves. A suppressed
finding is still a result, with SARIF `suppressions` (kind `external` for sccheck.yaml and the
baseline, `inSource` for a `//lint:ignore` directive, and the reason as `justification`). In
git, each run names the repository, commit and branch (`versionControlProvenance`). A tool that
failed still gets a run, with `executionSuccessful: false` and its diagnostics as a notification.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from supplychain import __version__
from supplychain.analyzers.base import write_json_atomic
from supplychain.analyzers.model import CheckResult, Finding, Severity, ToolRun
from supplychain.errors import UsageError
from supplychain.source import source_info

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
_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
_SECURITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "7.5", Severity.MEDIUM: "5.0",
             Severity.LOW: "3.0", Severity.INFO: "1.0"}


_TOOL_HELP = {
    "vet": ("go vet's {rule} analyzer reported this.",
            "https://pkg.go.dev/golang.org/x/tools/go/analysis/passes/{rule}"),
    "staticcheck": ("staticcheck check {rule} reported this.", "https://staticcheck.dev/docs/checks/#{rule}"),
    "race": ("The race detector (go test -race) saw two goroutines access the same memory, at least one "
             "of them writing, without synchronisation.", "https://go.dev/doc/articles/race_detector"),
}


def _rule(finding: Finding, severity: Severity) -> dict[str, Any]:
    """A rule as GitHub code scanning wants it: descriptions, help, a default level, and for
    vulnerabilities the `security-severity` GitHub ranks alerts by (read from rules, not results)."""
    name, _ = DRIVERS[finding.tool]
    vuln = finding.vulnerability
    if vuln is not None:
        aliases = ", ".join(vuln.aliases)
        short = vuln.summary or vuln.id
        full = f"{vuln.id}{f' ({aliases})' if aliases else ''} in {vuln.module}: {short}"
        help_uri = vuln.url or f"https://pkg.go.dev/vuln/{vuln.id}"
        fixed = f" Upgrade {vuln.module} to {vuln.fixed_version} or later." if vuln.fixed_version else \
            " No fixed version is known yet."
        help_text = f"{full}.{fixed} Details: {help_uri}"
        help_md = f"**{vuln.id}**{f' ({aliases})' if aliases else ''} in `{vuln.module}`: {short}.{fixed}" \
                  f"\n\n[{vuln.id}]({help_uri})"
        tags = ["security", "vulnerability", "external/go-vuln"]
    else:
        template, uri = _TOOL_HELP[finding.tool]
        help_uri = uri.format(rule=finding.rule)
        short = f"{name}: {finding.rule}"
        full = template.format(rule=finding.rule)
        help_text = f"{full} See {help_uri}"
        help_md = f"{full} See [{finding.rule}]({help_uri})."
        tags = [finding.tool] + (["security"] if finding.tool == "race" else [])
    rule: dict[str, Any] = {
        "id": finding.rule, "name": finding.rule.replace("-", "_"),
        "shortDescription": {"text": short[:1024]}, "fullDescription": {"text": full[:4096]},
        "help": {"text": help_text, "markdown": help_md}, "helpUri": help_uri,
        "defaultConfiguration": {"level": _LEVEL[severity]},
        "properties": {"tags": tags, "precision": "high"},
    }
    if "security" in tags:
        rule["properties"]["security-severity"] = _SECURITY[severity]
    return rule


def _result(finding: Finding, rule_index: int, prefix: str) -> dict[str, Any]:
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
    uri = posixpath.join(prefix, loc.path if loc else "go.mod")
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
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
        result["properties"].update({"reachable": v.reachable, "scanLevel": v.scan_level,
                                     "aliases": list(v.aliases), "fixedVersion": v.fixed_version})
    if finding.test:
        result["properties"]["test"] = finding.test
    return result


def _numeric_version(text: str) -> str:
    """'go1.26.8' -> '1.26.8', 'staticcheck 2026.2.2 (0.8.2)' -> '2026.2.2' (SARIF wants a version
    that starts with a number, so versions compare)."""
    match = re.search(r"\d[\w.+-]*", text)
    return match.group(0) if match else text


def _run(run: ToolRun, base: Path, prefix: str, vcs: list[dict[str, Any]]) -> dict[str, Any]:
    name, home = DRIVERS[run.tool]
    worst: dict[str, Severity] = {}
    first: dict[str, Finding] = {}
    for finding in run.findings:
        first.setdefault(finding.rule, finding)
        if finding.rule not in worst or _RANK[finding.severity] > _RANK[worst[finding.rule]]:
            worst[finding.rule] = finding.severity
    index = {rule: i for i, rule in enumerate(first)}
    rules = [_rule(first[r], worst[r]) for r in first]
    results = [_result(f, index[f.rule], prefix) for f in run.findings]
    driver: dict[str, Any] = {"name": name, "informationUri": home, "rules": rules}
    if run.output and run.output.version:
        reported = run.output.version[:100]
        driver["version"] = _numeric_version(reported)
        driver["properties"] = {"reportedVersion": reported}
    invocation: dict[str, Any] = {"executionSuccessful": run.status == "ok"}
    if run.output:
        invocation["commandLine"] = " ".join(run.output.command)
    if run.status == "failed":
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": run.diagnostics or "the tool failed"}}]
    out: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"sccheck/{run.tool}/{prefix + '/' if prefix else ''}"},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": base.as_uri() + "/"}},
        "invocations": [invocation],
        "results": results,
        "properties": {"sccheckVersion": __version__, "seconds": round(run.seconds, 3)},
    }
    if vcs:
        out["versionControlProvenance"] = vcs
    return out


def _base(result: CheckResult, sarif_root: Path | None) -> tuple[Path, str, list[dict[str, Any]]]:
    """(the directory URIs are relative to, the module's path below it, version control facts).
    GitHub resolves SARIF paths from the repository root and ignores `originalUriBaseIds`, so
    a module in `services/api/` must report `services/api/main.go`."""
    module = Path(result.root).resolve()
    if module.is_file():
        module = module.parent
    info = source_info(module)
    if sarif_root is not None:
        base = sarif_root.resolve()
    elif info.toplevel:
        base = Path(info.toplevel).resolve()
    else:
        base = module
    try:
        prefix = module.relative_to(base).as_posix()
    except ValueError:
        raise UsageError(f"--sarif-root {base} does not contain the checked module {module}",
                         expected="the repository root (or a directory above the module)",
                         found=str(base),
                         fix="pass the directory your code scanning resolves paths from") from None
    vcs: list[dict[str, Any]] = []
    if info.revision and info.remote:
        entry: dict[str, Any] = {"repositoryUri": info.remote, "revisionId": info.revision,
                                 "mappedTo": {"uriBaseId": "%SRCROOT%"}}
        if info.branch:
            entry["branch"] = info.branch
        vcs.append(entry)
    return base, "" if prefix == "." else prefix, vcs


def to_sarif(result: CheckResult, sarif_root: Path | None = None) -> dict[str, Any]:
    base, prefix, vcs = _base(result, sarif_root)
    runs = [_run(r, base, prefix, vcs) for r in result.tools if r.status != "skipped"]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}


def write(result: CheckResult, path: Path, sarif_root: Path | None = None) -> None:
    write_json_atomic(path, to_sarif(result, sarif_root))
