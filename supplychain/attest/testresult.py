"""in-toto test-result v0.1 (TEST_RESULT): the builder (one predicate per check tool: vet,
staticcheck, the race tests) and the reader the policy uses.

    result       PASSED | WARNED (passed, with findings below the threshold) | FAILED
    configuration  [go.mod by digest (source mode), the tool with its version and command]
    passedTests, warnedTests, failedTests
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from supplychain.analyzers.model import CheckResult, Finding, ToolRun
from supplychain.attest.predicates import lookup

TOOL_URIS = {
    "vet": "https://pkg.go.dev/cmd/vet",
    "staticcheck": "pkg:golang/honnef.co/go/tools/cmd/staticcheck",
    "race": "https://go.dev/doc/articles/race_detector",
}
# The fields the reader (and the cluster exports) read.
RESULT = ("result",)
PASSING = ("PASSED", "WARNED")
FAILED_TESTS = ("failedTests",)


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


def test_result_predicate(result: CheckResult, run: ToolRun) -> dict[str, Any]:
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



# --- reading ----------------------------------------------------------------------------------

def test_failures(predicate: dict[str, Any]) -> list[str]:
    result = lookup(predicate, *RESULT)
    failed = lookup(predicate, *FAILED_TESTS)
    out = []
    if result not in PASSING:   # WARNED: passed, with non-failing warnings
        out.append(f"test result is {result!r}, expected 'PASSED' (or 'WARNED')")
    if failed is not None and not isinstance(failed, list):
        out.append("failedTests is not a list")
    elif failed:
        names = ", ".join(str(t) for t in failed[:5]) + (" …" if len(failed) > 5 else "")
        out.append(f"{len(failed)} failed test(s): {names}")
    return out
