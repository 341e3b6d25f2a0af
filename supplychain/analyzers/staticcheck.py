"""`staticcheck -f json ./...` → findings (rule = the check code, e.g. SA4006).

Severity by check family: SA (bugs) high; S (simplifications), ST (style), QF (quick fixes)
low. A `compile` pseudo-finding means the module did not build: that is a tool failure.
Staticcheck exits 1 when it reports anything, so the exit status alone means nothing.
"""

from __future__ import annotations

import json

from supplychain.analyzers.base import ToolContext, execute, failed, json_values
from supplychain.analyzers.model import Finding, Location, Severity, ToolOutput
from supplychain.tools import find_tool

NAME = "staticcheck"


def severity_of(code: str) -> Severity:
    return Severity.HIGH if code.startswith("SA") else Severity.LOW


def parse(text: str, ctx: ToolContext) -> tuple[tuple[Finding, ...], list[str]]:
    """(findings, compile errors) from staticcheck's JSON lines."""
    findings: list[Finding] = []
    compile_errors: list[str] = []
    for value in json_values(text):
        if not isinstance(value, dict):
            continue
        code = str(value.get("code", ""))
        message = str(value.get("message", ""))
        if code == "compile":
            compile_errors.append(message)
            continue
        start = value.get("location") or {}
        end = value.get("end") or {}
        location = None
        if start.get("file"):
            location = Location(path=ctx.relpath(str(start["file"])), line=int(start.get("line", 0)),
                                column=int(start.get("column", 0)),
                                end_line=int(end.get("line", 0)), end_column=int(end.get("column", 0)))
        findings.append(Finding(tool=NAME, rule=code, severity=severity_of(code), message=message,
                                location=location))
    findings.sort(key=lambda f: (f.location.path, f.location.line, f.location.column, f.rule)
                  if f.location else ("", 0, 0, f.rule))
    return tuple(findings), compile_errors


def run(ctx: ToolContext) -> ToolOutput:
    exe = find_tool("staticcheck")
    assert exe is not None
    argv = [exe, "-f", "json", "./..."]
    proc = execute(argv, ctx, tool="staticcheck")
    try:
        findings, compile_errors = parse(proc.stdout, ctx)
    except json.JSONDecodeError as exc:
        raise failed("staticcheck", argv, proc, f"its JSON output did not parse ({exc})",
                     "run 'staticcheck -f json ./...' by hand to see what it prints") from None
    if compile_errors:
        raise failed("staticcheck", argv, proc, "the packages did not compile",
                     "make 'go build ./...' succeed in the module, then check again")
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not findings):
        raise failed("staticcheck", argv, proc, "it exited without reporting findings",
                     "run 'staticcheck ./...' by hand in the module")
    version = execute([exe, "-version"], ctx, tool="staticcheck").stdout.strip()
    return ToolOutput(findings=findings, command=("staticcheck", *argv[1:]), version=version)
