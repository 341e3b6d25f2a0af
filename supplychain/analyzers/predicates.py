"""Attestation predicates from a check result, as plain dicts (the signing layer wraps them
into in-toto statements; the policy layer reads them). Field by field in docs/check.md.

- test-result v0.1 (`https://in-toto.io/attestation/test-result/v0.1`) for vet, staticcheck
  and the race tests;
- the cosign vulnerability scan record (`https://cosign.sigstore.dev/attestation/vuln/v1`),
  whose free-form `scanner.result` carries govulncheck's findings with reachability;
- an OpenVEX v0.2.0 document: reachable vulnerabilities are `affected`, the others
  `not_affected` because the vulnerable code is not in the execute path (source mode) or not
  present in the binary (binary mode).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from supplychain import __version__
from supplychain.analyzers.base import write_json_atomic
from supplychain.analyzers.model import CheckResult, Finding, ToolRun

TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
OPENVEX = "https://openvex.dev/ns/v0.2.0"
VULN_RESULT_FORMAT = "https://sccheck.dev/check/govulncheck-result/v1"
TOOL_URIS = {
    "vet": "https://pkg.go.dev/cmd/vet",
    "staticcheck": "pkg:golang/honnef.co/go/tools/cmd/staticcheck",
    "race": "https://go.dev/doc/articles/race_detector",
}


def _entry(finding: Finding) -> str:
    where = f" {finding.location}" if finding.location else ""
    test = f" {finding.test}" if finding.test and finding.tool == "race" else ""
    mark = f" (suppressed: {finding.suppressed.justification})" if finding.suppressed else ""
    return f"{finding.rule}{test}{where}{mark}"


def _suppressed(finding: Finding) -> dict[str, Any]:
    assert finding.suppressed is not None
    return {"rule": finding.rule, "location": str(finding.location or ""),
            "fingerprint": finding.fingerprint, **finding.suppressed.to_dict()}


def _gomod_descriptor(result: CheckResult) -> list[dict[str, Any]]:
    gomod = Path(result.root) / "go.mod"
    if result.mode != "source" or not gomod.is_file():
        return []
    return [{"name": "go.mod", "digest": {"sha256": hashlib.sha256(gomod.read_bytes()).hexdigest()}}]


def test_result(result: CheckResult, run: ToolRun) -> dict[str, Any]:
    """The test-result v0.1 predicate for one of vet, staticcheck, race."""
    failing = [f for f in run.findings if result.fails(f)]
    warned = [f for f in run.findings if not result.fails(f)]
    failed_tests = [_entry(f) for f in failing]
    passed_tests: list[str] = []
    if run.output and run.output.tests:
        tests = run.output.tests
        passed_tests = list(tests.passed)
        failed_tests += [t for t in tests.failed if not any(f.test == t for f in failing)]
    if run.status != "ok":
        failed_tests.append(f"{run.tool}: the tool could not run")
    outcome = "FAILED" if failed_tests else "WARNED" if warned else "PASSED"
    tool: dict[str, Any] = {"name": run.tool, "uri": TOOL_URIS[run.tool],
                            "annotations": {"status": run.status,
                                            "failOn": result.fail_on.describe(),
                                            "suppressed": [_suppressed(f) for f in run.findings
                                                           if f.suppressed]}}
    if run.output:
        tool["annotations"].update({"version": run.output.version,
                                    "command": " ".join(run.output.command)})
    return {"result": outcome, "configuration": [*_gomod_descriptor(result), tool],
            "passedTests": passed_tests, "warnedTests": [_entry(f) for f in warned],
            "failedTests": failed_tests}


def vuln_record(result: CheckResult) -> dict[str, Any] | None:
    """The cosign vuln/v1 predicate, or None when the vulnerability scan did not run."""
    run = result.run("vuln")
    if run is None or run.status != "ok" or run.output is None:
        return None
    facts = run.output.facts
    vulns = []
    for f in run.findings:
        v = f.vulnerability
        if v is None:
            continue
        vulns.append({"id": v.id, "aliases": list(v.aliases), "summary": v.summary,
                      "module": v.module, "version": v.version, "fixedVersion": v.fixed_version,
                      "scanLevel": v.scan_level, "reachable": v.reachable,
                      "symbols": list(v.symbols), "trace": list(v.trace),
                      "severity": f.severity.value, "location": str(f.location or ""),
                      "url": v.url, "fingerprint": f.fingerprint,
                      "suppressed": f.suppressed.to_dict() if f.suppressed else None})
    version = run.output.version
    return {
        "invocation": {"parameters": list(run.output.command[1:]), "uri": "", "event_id": "",
                       "builder.id": ""},
        "scanner": {
            "uri": f"pkg:golang/golang.org/x/vuln@{version}" if version else "pkg:golang/golang.org/x/vuln",
            "version": version,
            "db": {"uri": str(facts.get("db", "")), "version": str(facts.get("db_last_modified", ""))},
            "result": {
                "format": VULN_RESULT_FORMAT, "mode": result.mode, "module": result.module,
                "goVersion": str(facts.get("go_version", "")),
                "scanLevel": str(facts.get("scan_level", "")),
                "modules": list(facts.get("modules", [])),
                "vulnerabilities": vulns,
                "summary": {"total": len(vulns),
                            "reachable": sum(1 for v in vulns if v["reachable"]),
                            "unreachable": sum(1 for v in vulns if not v["reachable"]),
                            "suppressed": sum(1 for v in vulns if v["suppressed"])},
            },
        },
        "metadata": {"scanStartedOn": result.started, "scanFinishedOn": result.finished},
    }


def _product(result: CheckResult, run: ToolRun) -> str:
    module = result.module
    if not module and run.output:
        mods = run.output.facts.get("modules") or []
        module = next((m["path"] for m in mods if m.get("path") and m["path"] != "stdlib"), "")
    return f"pkg:golang/{module}" if module else Path(result.path).name


def openvex(result: CheckResult, product: str | None = None) -> dict[str, Any] | None:
    """An OpenVEX v0.2.0 document, or None when the vulnerability scan did not run.

    `product` names what the statements are about (default: the main module's purl; the
    signing layer may pass the image reference instead).
    """
    run = result.run("vuln")
    if run is None or run.status != "ok" or run.output is None:
        return None
    product_id = product or _product(result, run)
    statements = []
    for f in run.findings:
        v = f.vulnerability
        if v is None:
            continue
        component = f"pkg:golang/{v.module}@{v.version}" if v.module != "stdlib" else \
            f"pkg:golang/stdlib@{v.version}"
        statement: dict[str, Any] = {
            "vulnerability": {"@id": v.url or f"https://pkg.go.dev/vuln/{v.id}", "name": v.id,
                              "aliases": list(v.aliases)},
            "products": [{"@id": product_id, "subcomponents": [{"@id": component}]}],
        }
        if v.reachable:
            statement["status"] = "affected"
            statement["action_statement"] = (
                f"upgrade {v.module} to {v.fixed_version} or later" if v.fixed_version
                else f"no fixed version of {v.module} yet: stop calling {', '.join(v.symbols)}")
        elif result.mode == "binary":
            statement["status"] = "not_affected"
            statement["justification"] = "vulnerable_code_not_present"
            statement["impact_statement"] = "govulncheck found none of the vulnerable symbols " \
                "in the binary"
        else:
            statement["status"] = "not_affected"
            statement["justification"] = "vulnerable_code_not_in_execute_path"
            statement["impact_statement"] = (
                "govulncheck call-graph analysis: the vulnerable package is imported but no "
                "vulnerable symbol is reachable" if v.scan_level == "package" else
                "govulncheck: the module is required but no vulnerable package is imported")
        statements.append(statement)
    body = {"@context": OPENVEX, "author": "sccheck", "role": "automated analysis",
            "timestamp": result.finished, "version": 1,
            "tooling": f"sccheck {__version__} (govulncheck {run.output.version})",
            "statements": statements}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {"@id": f"https://sccheck.dev/vex/{digest}", **body}


def write_all(result: CheckResult, directory: Path) -> list[Path]:
    """Write every predicate that applies, plus `predicates.json` naming each file's type."""
    written: list[tuple[Path, str]] = []
    for run in result.tools:
        if run.tool in TOOL_URIS and run.status != "skipped":
            path = directory / f"test-result-{run.tool}.json"
            write_json_atomic(path, test_result(result, run))
            written.append((path, TEST_RESULT))
    record = vuln_record(result)
    if record is not None:
        write_json_atomic(directory / "vuln.json", record)
        written.append((directory / "vuln.json", VULN))
    vex = openvex(result)
    if vex is not None:
        write_json_atomic(directory / "openvex.json", vex)
        written.append((directory / "openvex.json", OPENVEX))
    index = directory / "predicates.json"
    write_json_atomic(index, {"predicates": [{"file": p.name, "predicateType": t} for p, t in written]})
    return [p for p, _ in written] + [index]
