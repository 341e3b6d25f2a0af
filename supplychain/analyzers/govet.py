"""`go vet -json ./...` → findings (rule = the analyzer name; severity by analyzer, `rules.vet_severity`).

Vet's JSON is one object per package, `{pkgpath: {analyzer: [{posn, end, message}]}}`, printed
on stdout by Go 1.26 and on stderr by older toolchains: both streams are read. Type errors are
not findings: vet then exits non-zero with plain text, and that is a tool failure.
"""

from __future__ import annotations

import json
import re

from supplychain.analyzers.base import ToolContext, execute, failed, json_values
from supplychain.analyzers.model import Finding, Location, ToolOutput
from supplychain.analyzers.rules import vet_severity
from supplychain.source import go_version
from supplychain.tools import find_tool

NAME = "vet"
_POSN = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?$")


def parse_position(posn: str, end: str, ctx: ToolContext) -> Location | None:
    m = _POSN.match(posn or "")
    if not m:
        return None
    e = _POSN.match(end or "")
    return Location(path=ctx.relpath(m["file"]), line=int(m["line"]), column=int(m["col"] or 0),
                    end_line=int(e["line"]) if e else 0,
                    end_column=int(e["col"] or 0) if e else 0)


def parse(text: str, ctx: ToolContext) -> tuple[Finding, ...]:
    """Findings from vet's JSON stream, sorted by place."""
    findings: list[Finding] = []
    for value in json_values(text):
        if not isinstance(value, dict):
            continue
        for analyzers in value.values():
            if not isinstance(analyzers, dict):
                continue
            for analyzer, diags in analyzers.items():
                if not isinstance(diags, list):  # {"error": "..."} for a broken analyzer
                    continue
                for d in diags:
                    findings.append(Finding(
                        tool=NAME, rule=analyzer, severity=vet_severity(analyzer),
                        message=str(d.get("message", "")),
                        location=parse_position(str(d.get("posn", "")), str(d.get("end", "")),
                                                ctx)))
    return tuple(sorted(findings, key=_place))


def _place(f: Finding) -> tuple[str, int, int, str]:
    loc = f.location
    return (loc.path, loc.line, loc.column, f.rule) if loc else ("", 0, 0, f.rule)


def run(ctx: ToolContext) -> ToolOutput:
    go = find_tool("go")
    assert go is not None
    argv = [go, "vet", "-json", *ctx.packages]
    proc = execute(argv, ctx, tool="go vet")
    text = proc.stdout + "\n" + proc.stderr
    if proc.returncode != 0:
        raise failed("go vet", argv, proc, "the packages did not load or type-check",
                     "make 'go build ./...' succeed in the module, then check again")
    try:
        findings = parse(text, ctx)
    except json.JSONDecodeError as exc:
        raise failed("go vet", argv, proc, f"its JSON output did not parse ({exc})",
                     "run 'go vet -json ./...' by hand to see what it prints") from None
    return ToolOutput(findings=findings, command=tuple(argv[1:]), version=_go_version(ctx))


def _go_version(ctx: ToolContext) -> str:
    return go_version(ctx.root)
