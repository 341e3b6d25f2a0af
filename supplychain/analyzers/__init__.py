"""Static and dynamic checks of a Go module: go vet, staticcheck, govulncheck, race tests.

`check(CheckRequest(path=...))` runs them concurrently and returns one `CheckResult`;
`sarif.to_sarif` and the `predicates` functions turn a result into SARIF 2.1.0 and
attestation predicates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supplychain._lazy import lazy_exports
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

if TYPE_CHECKING:
    from supplychain.analyzers.runner import CheckRequest, check, parse_tools

# The runner (every tool's parser, the vulnerability cache) loads when a check runs: reading a
# test-result predicate during verification needs the model only.
_LAZY = {"CheckRequest": "runner", "check": "runner", "parse_tools": "runner"}

__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = ["TOOLS", "CheckRequest", "CheckResult", "FailOn", "Finding", "Location", "Severity",
           "ToolRun", "Vulnerability", "check", "parse_tools"]
