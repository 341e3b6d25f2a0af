"""`staticcheck -f json ./...` → findings (rule = the check code, e.g. SA4006).

Severity by check class (`rules.staticcheck_severity`: deprecations low, correctness bugs
high, style info). A `compile` pseudo-finding means the module did not build: that is a tool
failure. Staticcheck runs with `-show-ignored`, so a problem silenced by a `//lint:ignore`
directive is still reported, as suppressed in source with the directive's reason.
Staticcheck exits 1 when it reports anything, so the exit status alone means nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from supplychain.analyzers.base import ToolContext, execute, failed, json_values
from supplychain.analyzers.model import Finding, Location, Suppression, ToolOutput
from supplychain.analyzers.rules import staticcheck_severity
from supplychain.tools import find_tool

NAME = "staticcheck"
_DIRECTIVE = re.compile(r"//lint:(?:file-)?ignore\s+(?P<codes>\S+)\s*(?P<reason>.*)$")


def directive_reason(root: Path, location: Location | None, code: str) -> str:
    """The reason written in the `//lint:ignore CODES reason` directive above a finding."""
    if location is None or not location.line:
        return ""
    try:
        lines = (root / location.path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    candidates = lines[max(0, location.line - 2):location.line][::-1]   # the line above, then itself
    candidates += [ln for ln in lines if "//lint:file-ignore" in ln]
    for line in candidates:
        m = _DIRECTIVE.search(line)
        if m and any(c.strip() in (code, "*") or (c.endswith("*") and code.startswith(c[:-1]))
                     for c in m["codes"].split(",")):
            return m["reason"].strip()
    return ""


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
        suppressed = None
        if value.get("severity") == "ignored":
            reason = directive_reason(ctx.root, location, code) or "no reason given"
            suppressed = Suppression(kind="inSource", justification=reason,
                                     source="//lint:ignore directive")
        findings.append(Finding(tool=NAME, rule=code, severity=staticcheck_severity(code),
                                message=message, location=location, suppressed=suppressed))
    findings.sort(key=lambda f: (f.location.path, f.location.line, f.location.column, f.rule)
                  if f.location else ("", 0, 0, f.rule))
    return tuple(findings), compile_errors


def run(ctx: ToolContext) -> ToolOutput:
    exe = find_tool("staticcheck")
    assert exe is not None
    argv = [exe, "-f", "json", "-show-ignored", *ctx.packages]
    proc = execute(argv, ctx, tool="staticcheck")
    try:
        findings, compile_errors = parse(proc.stdout, ctx)
    except json.JSONDecodeError as exc:
        raise failed("staticcheck", argv, proc, f"its JSON output did not parse ({exc})",
                     "run 'staticcheck -f json ./...' by hand to see what it prints") from None
    if compile_errors:
        err = failed("staticcheck", argv, proc, "the packages did not compile",
                     "make 'go build ./...' succeed in the module, then check again")
        err.facts["stderr"] = "\n".join(compile_errors)[-4000:]
        raise err
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not findings):
        raise failed("staticcheck", argv, proc, "it exited without reporting findings",
                     "run 'staticcheck ./...' by hand in the module")
    version = execute([exe, "-version"], ctx, tool="staticcheck").stdout.strip()
    return ToolOutput(findings=findings, command=("staticcheck", *argv[1:]), version=version)
