"""govulncheck → vulnerability findings with reachability.

Source mode runs `govulncheck -json -db DB ./...` in the module; binary mode runs
`govulncheck -mode binary -json -db DB FILE`. The JSON stream holds `config`, `SBOM`, `osv`
entries and `finding`s; a finding's trace starts at the vulnerable frame. A trace whose first
frame names a function means the symbol is reached (source: called from the module; binary:
linked into it); a package only means it is imported; neither means the module is only
required. One sccheck finding is made per OSV id, at the deepest level seen.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from supplychain.analyzers import vulncache
from supplychain.analyzers.base import ToolContext, execute, failed, json_values
from supplychain.analyzers.model import Finding, Location, Severity, ToolOutput, Vulnerability
from supplychain.errors import UsageError
from supplychain.tools import find_tool

NAME = "vuln"
PUBLIC_DB = "https://vuln.go.dev"
_LEVELS = {"module": 0, "package": 1, "symbol": 2}
_SEVERITY = {"symbol": Severity.HIGH, "package": Severity.LOW, "module": Severity.INFO}


def normalize_db(value: str | None) -> str:
    """A `-db` URL from a URL or a local directory in the Go vulnerability database layout."""
    if not value:
        return PUBLIC_DB
    parsed = urlparse(value)
    if parsed.scheme in ("http", "https"):
        return value.rstrip("/")
    directory = Path(parsed.path) if parsed.scheme == "file" else Path(value)
    if parsed.scheme not in ("", "file"):
        raise UsageError(f"unsupported vulnerability database {value!r}",
                         expected="an https:// URL, a file:// URL or a directory",
                         found=value, fix="pass --vuln-db https://vuln.go.dev or a local directory")
    if not (directory / "index" / "modules.json").is_file():
        raise UsageError(f"{directory} is not a Go vulnerability database",
                         expected="a directory with index/db.json, index/modules.json and ID/*.json",
                         found="no index/modules.json there",
                         fix="point --vuln-db at a copy of the database (see docs/check.md)")
    return directory.resolve().as_uri()


def _symbol(frame: dict[str, Any]) -> str:
    pkg = str(frame.get("package", ""))
    short = pkg.rsplit("/", 1)[-1]
    recv = str(frame.get("receiver", "")).lstrip("*")
    func = str(frame.get("function", ""))
    return f"{short}.{recv + '.' if recv else ''}{func}"


def _frame_text(frame: dict[str, Any]) -> str:
    text = str(frame.get("package") or frame.get("module"))
    if frame.get("function"):
        recv = str(frame.get("receiver", "")).lstrip("*")
        text += f".{recv + '.' if recv else ''}{frame['function']}"
    pos = frame.get("position") or {}
    if pos.get("filename") and pos.get("line"):
        text += f" ({pos['filename']}:{pos['line']})"
    return text


def _go_mod_location(ctx: ToolContext, module: str) -> Location:
    if ctx.binary is not None:
        return Location(path=ctx.relpath(str(ctx.binary)))
    gomod = ctx.root / "go.mod"
    try:
        lines = gomod.read_text(encoding="utf-8").splitlines()
    except OSError:
        return Location(path="go.mod")
    pattern = re.compile(r"^\s*go\s+\d" if module == "stdlib" else
                         r"^\s*(require\s+)?" + re.escape(module) + r"\s+v")
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return Location(path="go.mod", line=number)
    return Location(path="go.mod", line=1)


def parse(text: str, ctx: ToolContext) -> tuple[tuple[Finding, ...], dict[str, Any]]:
    """(findings, facts) from govulncheck's JSON stream."""
    entries: dict[str, dict[str, Any]] = {}
    config: dict[str, Any] = {}
    sbom: dict[str, Any] = {}
    best: dict[str, dict[str, Any]] = {}
    for msg in json_values(text):
        if not isinstance(msg, dict):
            continue
        if isinstance(msg.get("config"), dict):
            config = msg["config"]
        elif isinstance(msg.get("SBOM"), dict):
            sbom = msg["SBOM"]
        elif isinstance(msg.get("osv"), dict):
            entries[str(msg["osv"].get("id"))] = msg["osv"]
        elif isinstance(msg.get("finding"), dict):
            _merge(best, msg["finding"])
    roots = set(sbom.get("roots") or [])
    findings = [_finding(osv_id, agg, entries.get(osv_id, {}), roots, ctx)
                for osv_id, agg in sorted(best.items())]
    findings.sort(key=lambda f: (-f.severity.rank, f.rule))
    facts = {"db": config.get("db", ""), "db_last_modified": config.get("db_last_modified", ""),
             "scanner_version": config.get("scanner_version", ""),
             "go_version": config.get("go_version", "") or sbom.get("go_version", ""),
             "scan_mode": config.get("scan_mode", ctx.mode),
             "scan_level": config.get("scan_level", ""),
             "modules": [{"path": m.get("path", ""), "version": m.get("version", "")}
                         for m in sbom.get("modules") or []]}
    return tuple(findings), facts


def _merge(best: dict[str, dict[str, Any]], finding: dict[str, Any]) -> None:
    trace = finding.get("trace") or []
    if not trace:
        return
    first = trace[0]
    level = "symbol" if first.get("function") else "package" if first.get("package") else "module"
    osv_id = str(finding.get("osv", ""))
    agg = best.setdefault(osv_id, {"level": "module", "symbols": [], "trace": [], "frame0": first,
                                   "fixed": finding.get("fixed_version") or None})
    if _LEVELS[level] > _LEVELS[agg["level"]]:
        agg["level"] = level
        agg["frame0"] = first
        if level == "symbol":
            agg["trace"] = trace
    if level == "symbol" and _symbol(first) not in agg["symbols"]:
        agg["symbols"].append(_symbol(first))


def _finding(osv_id: str, agg: dict[str, Any], entry: dict[str, Any], roots: set[str],
             ctx: ToolContext) -> Finding:
    frame0 = agg["frame0"]
    level = agg["level"]
    module, version = str(frame0.get("module", "")), str(frame0.get("version", ""))
    location = None
    if level == "symbol" and ctx.binary is None:
        for frame in reversed(agg["trace"]):
            pos = frame.get("position") or {}
            if frame.get("module") in roots and pos.get("filename"):
                location = Location(path=str(pos["filename"]), line=int(pos.get("line", 0)),
                                    column=int(pos.get("column", 0)))
                break
    if location is None:
        location = _go_mod_location(ctx, module)
    vuln = Vulnerability(
        id=osv_id, aliases=tuple(entry.get("aliases") or ()), summary=str(entry.get("summary", "")),
        module=module, version=version, fixed_version=agg["fixed"], scan_level=level,
        symbols=tuple(sorted(agg["symbols"])), trace=tuple(_frame_text(f) for f in agg["trace"]),
        url=str((entry.get("database_specific") or {}).get("url", "")))
    how = {"symbol": ("calls " if ctx.binary is None else "links in ") + ", ".join(vuln.symbols),
           "package": "imports " + str(frame0.get("package", "")) + " but calls no vulnerable symbol",
           "module": "requires the module but imports no vulnerable package"}[level]
    ids = ", ".join((osv_id, *vuln.aliases))
    fixed = f"; fixed in {vuln.fixed_version}" if vuln.fixed_version else "; no fixed version yet"
    message = f"{module}@{version} ({ids}): {vuln.summary}. The code {how}{fixed}."
    return Finding(tool=NAME, rule=osv_id, severity=_SEVERITY[level], message=message,
                   location=location, vulnerability=vuln)


def _scan(argv: list[str], ctx: ToolContext) -> tuple[str, tuple[tuple[Finding, ...], dict[str, Any]]]:
    """govulncheck's output and its parse."""
    proc = execute(argv, ctx, tool="govulncheck")
    if proc.returncode != 0:
        raise failed("govulncheck", argv, proc, "it could not scan",
                     "check that the module builds and that --vuln-db is reachable "
                     f"(it was {ctx.vuln_db})")
    try:
        return proc.stdout, parse(proc.stdout, ctx)
    except json.JSONDecodeError as exc:
        raise failed("govulncheck", argv, proc, f"its JSON output did not parse ({exc})",
                     "run 'govulncheck -json ./...' by hand to see what it prints") from None


def run(ctx: ToolContext) -> ToolOutput:
    exe = find_tool("govulncheck")
    assert exe is not None
    argv = [exe, "-json", "-db", ctx.vuln_db]
    argv += ["-mode", "binary", str(ctx.binary)] if ctx.binary else list(ctx.packages)
    # the same executable, arguments, Go, files and database give the same answer
    # (supplychain.analyzers.vulncache); anything else, or a damaged entry, scans again
    cache_key = vulncache.key(exe, argv[1:], ctx.root, ctx.binary, ctx.vuln_db, ctx.env)
    stdout = vulncache.get(cache_key) if cache_key else None
    parsed = None
    if stdout is not None:
        with contextlib.suppress(json.JSONDecodeError):
            parsed = parse(stdout, ctx)
    cached = parsed is not None
    if parsed is None:
        stdout, parsed = _scan(argv, ctx)
        if cache_key:
            vulncache.put(cache_key, stdout)
    findings, facts = parsed
    facts["cached"] = cached
    return ToolOutput(findings=findings, command=("govulncheck", *argv[1:]),
                      version=str(facts.get("scanner_version", "")), facts=facts)
