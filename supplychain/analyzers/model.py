"""The findings model shared by every analyzer: severities, locations, findings, tool runs, results.

Everything here is a frozen dataclass with a `to_dict()` giving the stable JSON shape that
`sccheck --json check` prints (documented in docs/check.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from supplychain.errors import UsageError

TOOLS = ("vet", "staticcheck", "vuln", "race")


class Severity(StrEnum):
    """Ordered from least to most serious; thresholds compare with `rank`."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise UsageError(
                f"unknown severity {text!r}",
                expected="one of " + ", ".join(s.value for s in _ORDER) + " (or none)",
                found=text,
                fix="pass e.g. --fail-on medium or --fail-on vuln=high,staticcheck=none",
            ) from None


_ORDER = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


@dataclass(frozen=True)
class Location:
    """A place in the checked tree: `path` is relative to the module root, '/'-separated."""

    path: str
    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        text = self.path
        if self.line:
            text += f":{self.line}"
            if self.column:
                text += f":{self.column}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column,
                "end_line": self.end_line, "end_column": self.end_column}


@dataclass(frozen=True)
class Vulnerability:
    """One OSV entry that affects a module in the build, with how far the code reaches it.

    `scan_level` is the deepest level govulncheck saw: "symbol" (a vulnerable function is
    called, or in binary mode linked in), "package" (a vulnerable package is imported) or
    "module" (only the module is required). `reachable` is `scan_level == "symbol"`.
    """

    id: str
    aliases: tuple[str, ...]
    summary: str
    module: str
    version: str
    fixed_version: str | None
    scan_level: str
    symbols: tuple[str, ...] = ()
    trace: tuple[str, ...] = ()
    url: str = ""

    @property
    def reachable(self) -> bool:
        return self.scan_level == "symbol"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "aliases": list(self.aliases), "summary": self.summary,
                "module": self.module, "version": self.version,
                "fixed_version": self.fixed_version, "scan_level": self.scan_level,
                "reachable": self.reachable, "symbols": list(self.symbols),
                "trace": list(self.trace), "url": self.url}


@dataclass(frozen=True)
class Suppression:
    """Why a finding does not count: `kind` is SARIF's "external" (sccheck.yaml, a baseline) or
    "inSource" (a `//lint:ignore` directive); `source` names where it was declared."""

    kind: str
    justification: str
    source: str
    expires: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "justification": self.justification, "source": self.source,
                "expires": self.expires or None}


@dataclass(frozen=True)
class Finding:
    """One thing a tool reported. `rule` is the analyzer, check code, OSV id or race rule.

    `fingerprint` (set by the runner) names the finding without its line number, so a baseline
    or a suppression survives code moving around; `suppressed` says why it does not count.
    `details` are the supporting lines (a failed test's own output)."""

    tool: str
    rule: str
    severity: Severity
    message: str
    location: Location | None = None
    vulnerability: Vulnerability | None = None
    test: str | None = None
    details: tuple[str, ...] = ()
    fingerprint: str = ""
    suppressed: Suppression | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "rule": self.rule, "severity": self.severity.value,
                "message": self.message,
                "location": self.location.to_dict() if self.location else None,
                "vulnerability": self.vulnerability.to_dict() if self.vulnerability else None,
                "test": self.test, "details": list(self.details), "fingerprint": self.fingerprint,
                "suppressed": self.suppressed.to_dict() if self.suppressed else None}


@dataclass(frozen=True)
class TestOutcome:
    """Test names (`package.TestName`) by outcome, from `go test -json`."""

    passed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"passed": list(self.passed), "failed": list(self.failed),
                "skipped": list(self.skipped)}


@dataclass(frozen=True)
class ToolOutput:
    """What one analyzer module returns: its findings plus facts for predicates."""

    findings: tuple[Finding, ...]
    command: tuple[str, ...]
    version: str = ""
    tests: TestOutcome | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolRun:
    """One tool's run: status is "ok", "failed" (the tool could not do its job) or "skipped"."""

    tool: str
    status: str
    seconds: float
    output: ToolOutput | None = None
    error: dict[str, Any] | None = None
    diagnostics: str = ""

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.output.findings if self.output else ()

    def to_dict(self) -> dict[str, Any]:
        out = self.output
        return {"tool": self.tool, "status": self.status, "seconds": round(self.seconds, 3),
                "command": list(out.command) if out else [],
                "version": out.version if out else "",
                "findings": len(self.findings),
                "tests": out.tests.to_dict() if out and out.tests else None,
                "facts": dict(out.facts) if out else {},
                "error": self.error}


@dataclass(frozen=True)
class FailOn:
    """Thresholds: a finding at or above its tool's threshold fails the check.

    `None` for a tool means findings of that tool never fail the check.
    """

    default: Severity | None = Severity.MEDIUM
    per_tool: tuple[tuple[str, Severity | None], ...] = ()

    def threshold(self, tool: str) -> Severity | None:
        for name, level in self.per_tool:
            if name == tool:
                return level
        return self.default

    def fails(self, finding: Finding) -> bool:
        level = self.threshold(finding.tool)
        return level is not None and finding.severity.rank >= level.rank

    def describe(self) -> str:
        parts = [self.default.value if self.default else "none"]
        parts += [f"{t}={lv.value if lv else 'none'}" for t, lv in self.per_tool]
        return ",".join(parts)

    @classmethod
    def parse(cls, text: str) -> FailOn:
        """`high`, `none`, `vuln=high,staticcheck=none`, or `low,race=high`."""
        default: Severity | None = Severity.MEDIUM
        per_tool: list[tuple[str, Severity | None]] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, level_text = part.partition("=")
            level = None if (level_text if sep else name).lower() == "none" else Severity.parse(
                level_text if sep else name)
            if not sep:
                default = level
                continue
            if name not in TOOLS:
                raise UsageError(f"unknown tool {name!r} in --fail-on", expected=", ".join(TOOLS),
                                 found=name, fix="use e.g. --fail-on vuln=high")
            per_tool.append((name, level))
        return cls(default=default, per_tool=tuple(per_tool))


@dataclass(frozen=True)
class CheckResult:
    """The outcome of `sccheck check`: every tool's run, the verdict and its exit code."""

    path: str
    root: str
    mode: str
    module: str
    tools: tuple[ToolRun, ...]
    fail_on: FailOn
    started: str
    finished: str
    wall_seconds: float
    outputs: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()   # expired or unused suppressions, baseline facts

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for run in self.tools for f in run.findings)

    def fails(self, finding: Finding) -> bool:
        """The finding counts against the check: not suppressed and at or above its threshold."""
        return finding.suppressed is None and self.fail_on.fails(finding)

    @property
    def failing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if self.fails(f))

    @property
    def suppressed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is not None)

    @property
    def tool_seconds(self) -> float:
        return sum(run.seconds for run in self.tools)

    @property
    def tools_failed(self) -> tuple[str, ...]:
        return tuple(run.tool for run in self.tools if run.status == "failed")

    @property
    def exit_code(self) -> int:
        if self.tools_failed:
            return 3
        return 1 if self.failing else 0

    @property
    def verdict(self) -> str:
        return {0: "passed", 1: "failed", 3: "incomplete"}[self.exit_code]

    def run(self, tool: str) -> ToolRun | None:
        return next((r for r in self.tools if r.tool == tool), None)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.exit_code == 0, "verdict": self.verdict, "exit_code": self.exit_code,
                "path": self.path, "root": self.root, "mode": self.mode, "module": self.module,
                "fail_on": self.fail_on.describe(), "started": self.started,
                "finished": self.finished, "wall_seconds": round(self.wall_seconds, 3),
                "tool_seconds": round(self.tool_seconds, 3),
                "tools": [r.to_dict() for r in self.tools],
                "findings": [f.to_dict() | {"fails": self.fails(f)} for f in self.findings],
                "suppressed": len(self.suppressed), "notes": list(self.notes),
                "outputs": list(self.outputs)}
