"""Static and dynamic checks of a Go module: go vet, staticcheck, govulncheck, race tests.

`check(CheckRequest(path=...))` runs them concurrently and returns one `CheckResult`;
`sarif.to_sarif` and the `predicates` functions turn a result into SARIF 2.1.0 and
attestation predicates.
"""

from supplychain.analyzers.model import (
    TOOLS,
    CheckResult,
    FailOn,
    Finding,
    Location,
    Severity,
    ToolRun,
    Vulnerability,
)
from supplychain.analyzers.runner import CheckRequest, check, parse_tools

__all__ = ["TOOLS", "CheckRequest", "CheckResult", "FailOn", "Finding", "Location", "Severity",
           "ToolRun", "Vulnerability", "check", "parse_tools"]
