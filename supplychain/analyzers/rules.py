"""Default severity of every rule, by what the rule means, and the project's own mapping.

The table (docs/check.md repeats it):

- staticcheck: SA1019 (use of a deprecated identifier) low; SA1 (misuse of the standard
  library), SA2 (concurrency), SA4 (code that does nothing it seems to), SA5 (correctness)
  high; SA3 (tests) and SA9 (dubious constructs) medium; SA6 (performance) low; S1
  (simplifications) and U1000 (unused code) low; ST1 (style) and QF (quick fixes) info;
  anything else medium.
- go vet: analyzers that find real bugs (printf, copylocks, loopclosure, lostcancel, ...) high;
  the others medium.
- govulncheck: by reachability (symbol reached high, package imported low, module only
  required info) — set by the vuln analyzer itself.
- race tests: a data race or a failed test high.

`SeverityMap` is `check.severities` in sccheck.yaml: `RULE: LEVEL`, where RULE is a rule id
(`SA1019`), a glob (`ST*`) or either with a tool prefix (`vet:composites`, `staticcheck:S1*`).
An exact id wins over a glob; among globs the first listed wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from supplychain.analyzers.model import Finding, Severity

# "staticcheck" is its own code for a //lint:ignore directive that silences nothing.
_STATICCHECK_EXACT = {"SA1019": Severity.LOW, "staticcheck": Severity.LOW}
_STATICCHECK_CLASS = (  # longest prefix first
    ("SA1", Severity.HIGH), ("SA2", Severity.HIGH), ("SA3", Severity.MEDIUM),
    ("SA4", Severity.HIGH), ("SA5", Severity.HIGH), ("SA6", Severity.LOW),
    ("SA9", Severity.MEDIUM), ("S1", Severity.LOW), ("ST1", Severity.INFO), ("QF", Severity.INFO),
    ("U1", Severity.LOW),
)

VET_HIGH = frozenset({
    "printf", "copylocks", "loopclosure", "lostcancel", "atomic", "unsafeptr", "nilfunc",
    "shift", "httpresponse", "unmarshal", "stringintconv", "errorsas", "ifaceassert",
    "waitgroup", "sigchanyzer", "testinggoroutine", "timeformat", "defers",
})

RACE_RULES = {"data-race": Severity.HIGH, "test-failed": Severity.HIGH}


def staticcheck_severity(code: str) -> Severity:
    if code in _STATICCHECK_EXACT:
        return _STATICCHECK_EXACT[code]
    for prefix, level in _STATICCHECK_CLASS:
        if code.startswith(prefix) and code[len(prefix):].isdigit():
            return level
    return Severity.MEDIUM


def vet_severity(analyzer: str) -> Severity:
    return Severity.HIGH if analyzer in VET_HIGH else Severity.MEDIUM


@dataclass(frozen=True)
class SeverityMap:
    """`(pattern, severity)` pairs in file order; a pattern is `[TOOL:]RULE-OR-GLOB`."""

    entries: tuple[tuple[str, Severity], ...] = ()

    def lookup(self, tool: str, rule: str) -> Severity | None:
        exact = (rule, f"{tool}:{rule}")
        for pattern, level in self.entries:
            if pattern in exact:
                return level
        for pattern, level in self.entries:
            prefix, sep, glob = pattern.partition(":")
            if sep and prefix != tool:
                continue
            if fnmatchcase(rule, glob if sep else pattern):
                return level
        return None

    def apply(self, finding: Finding) -> Finding:
        level = self.lookup(finding.tool, finding.rule)
        return finding if level is None or level == finding.severity else replace(finding, severity=level)
