"""The predicates a `sccheck check` result yields, in one list used by `check --predicates-dir`
and by `build-and-sign`'s attest step: the vulnerability record (when the
vulnerability scan ran), a test result per check tool that ran, and the OpenVEX document."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from supplychain.analyzers.model import CheckResult
from supplychain.attest.openvex import openvex_predicate
from supplychain.attest.testresult import TOOL_URIS, test_result_predicate
from supplychain.attest.vocabulary import COSIGN_VULN, OPENVEX, TEST_RESULT
from supplychain.attest.vuln import vuln_predicate
from supplychain.fsutil import atomic_write


@dataclass(frozen=True)
class CheckPredicate:
    name: str              # "tests vet", "vulns", "openvex"
    file: str              # its file name under --predicates-dir
    predicate_type: str
    predicate: dict[str, Any]


def check_predicates(result: CheckResult) -> list[CheckPredicate]:
    out = []
    record = vuln_predicate(result)
    if record is not None:
        out.append(CheckPredicate("vulns", "vuln.json", COSIGN_VULN, record))
    for run in result.tools:
        if run.tool in TOOL_URIS and run.status != "skipped":
            out.append(CheckPredicate(f"tests {run.tool}", f"test-result-{run.tool}.json", TEST_RESULT,
                                      test_result_predicate(result, run)))
    vex = openvex_predicate(result)
    if vex is not None:
        out.append(CheckPredicate("openvex", "openvex.json", OPENVEX, vex))
    return out


def write_check_predicates(result: CheckResult, directory: Path) -> CheckResult:
    """Write every predicate that applies, plus `predicates.json` naming each file's type; the
    result comes back with the files added to its `outputs`."""
    written = check_predicates(result)
    for item in written:
        _write_json(directory / item.file, item.predicate)
    index = directory / "predicates.json"
    _write_json(index, {"predicates": [{"file": p.file, "predicateType": p.predicate_type}
                                       for p in written]})
    paths = [str(directory / p.file) for p in written] + [str(index)]
    return replace(result, outputs=(*result.outputs, *paths))


def _write_json(path: Path, value: Any) -> None:
    atomic_write(path, json.dumps(value, indent=2, sort_keys=True) + "\n", what="--predicates-dir")
