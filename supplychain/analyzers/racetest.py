"""`go test -race -json ./...` → data-race and test-failure findings, plus test outcomes.

The race detector needs cgo, so a C compiler (`go env CC`, normally gcc) must be installed;
without one this is a ToolMissing error. `-vet=off` because vet runs as its own tool.
Each `WARNING: DATA RACE` report becomes a `data-race` finding located at the first frame of
the first access that lies inside the module; a test that failed without a race report
becomes a `test-failed` finding. A package that does not build is a tool failure.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field

from supplychain.analyzers.base import ToolContext, execute, failed
from supplychain.analyzers.model import Finding, Location, Severity, TestOutcome, ToolOutput
from supplychain.errors import ToolMissing
from supplychain.tools import find_tool

NAME = "race"
_ACCESS = re.compile(r"^(?:Previous )?(?P<kind>[Rr]ead|[Ww]rite|[Aa]tomic \w+).* by (?P<who>.+?):$")
_FRAME_FILE = re.compile(r"^\s+(?P<file>/\S+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$")
_FRAME_FUNC = re.compile(r"^\s+(?P<func>\S+)\(.*\)$")


@dataclass
class _Package:
    output: dict[str, list[str]] = field(default_factory=dict)  # test name ("" = package) -> lines
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    build_failed: bool = False


def parse(text: str, ctx: ToolContext) -> tuple[tuple[Finding, ...], TestOutcome, list[str]]:
    """(findings, test outcome, packages that failed to build) from `go test -json` lines."""
    packages: dict[str, _Package] = {}
    build_output: list[str] = []
    for line in text.splitlines():
        if not line.startswith("{"):
            build_output.append(line)
            continue
        event = json.loads(line)
        action = event.get("Action", "")
        if action == "build-output":
            build_output.append(str(event.get("Output", "")))
            continue
        pkg_name = str(event.get("Package", ""))
        pkg = packages.setdefault(pkg_name, _Package())
        test = str(event.get("Test", "") or "")
        if action == "output":
            pkg.output.setdefault(test, []).append(str(event.get("Output", "")))
        elif test and action in ("pass", "fail", "skip"):
            {"pass": pkg.passed, "fail": pkg.failed, "skip": pkg.skipped}[action].append(test)
        elif action == "fail" and not test and event.get("FailedBuild"):
            pkg.build_failed = True
    findings: list[Finding] = []
    broken = [name for name, p in packages.items() if p.build_failed]
    for pkg_name, pkg in sorted(packages.items()):
        raced: set[str] = set()
        for test, lines in pkg.output.items():
            for report in _race_reports(lines):
                raced.add(test)
                findings.append(_race_finding(report, pkg_name, test, ctx))
        for test in pkg.failed:
            if test not in raced and "/" not in test:
                findings.append(Finding(
                    tool=NAME, rule="test-failed", severity=Severity.HIGH, test=f"{pkg_name}.{test}",
                    message=f"{pkg_name}.{test} failed: " + _last_failure(pkg.output.get(test, []))))
    outcome = TestOutcome(
        passed=tuple(sorted(f"{n}.{t}" for n, p in packages.items() for t in p.passed)),
        failed=tuple(sorted(f"{n}.{t}" for n, p in packages.items() for t in p.failed)),
        skipped=tuple(sorted(f"{n}.{t}" for n, p in packages.items() for t in p.skipped)))
    if broken and build_output:
        broken.append("".join(build_output).strip()[-2000:])
    return tuple(findings), outcome, broken


def _race_reports(lines: list[str]) -> list[list[str]]:
    reports: list[list[str]] = []
    current: list[str] | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if line.strip() == "WARNING: DATA RACE":
            current = []
        elif current is not None and line.strip().startswith("=================="):
            reports.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return reports


def _race_finding(report: list[str], pkg: str, test: str, ctx: ToolContext) -> Finding:
    accesses: list[tuple[str, str, Location | None, str]] = []  # kind, who, location, func
    func = ""
    for line in report:
        m = _ACCESS.match(line)
        if m:
            accesses.append((m["kind"].lower(), m["who"], None, ""))
            continue
        if line.startswith("Goroutine "):
            break  # creation stacks follow; the accesses are done
        fm = _FRAME_FUNC.match(line)
        if fm:
            func = fm["func"]
            continue
        fl = _FRAME_FILE.match(line)
        if fl and accesses and accesses[-1][2] is None:
            rel = ctx.relpath(fl["file"])
            if not rel.startswith("/"):
                kind, who, _, _ = accesses[-1]
                accesses[-1] = (kind, who, Location(path=rel, line=int(fl["line"])), func)
    location = next((a[2] for a in accesses if a[2] is not None), None)
    parts = [f"{kind} by {who} at {loc or 'outside the module'}" + (f" in {fn}" if fn else "")
             for kind, who, loc, fn in accesses]
    name = f"{pkg}.{test}" if test else pkg
    return Finding(tool=NAME, rule="data-race", severity=Severity.HIGH, location=location,
                   test=name, message=f"data race during {name}: " + "; ".join(parts))


def _last_failure(lines: list[str]) -> str:
    useful = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith(("=== ", "--- "))]
    return useful[-1] if useful else "see go test output"


def run(ctx: ToolContext) -> ToolOutput:
    go = find_tool("go")
    assert go is not None
    env = {**ctx.env, "CGO_ENABLED": "1"}
    cc = execute([go, "env", "CC"], ctx, env=env, tool="go env").stdout.strip() or "gcc"
    if not shutil.which(cc.split()[0], path=env.get("PATH")):
        raise ToolMissing(f"the race detector needs a C compiler, and {cc} is not installed",
                          expected=f"{cc} (go env CC) on PATH: the race detector needs cgo",
                          found="nothing", fix="install gcc (e.g. apt-get install gcc) or set CC, "
                          "or leave race tests out with --only vet,staticcheck,vuln")
    argv = [go, "test", "-race", "-vet=off", "-json", "./..."]
    proc = execute(argv, ctx, env=env, tool="go test -race")
    try:
        findings, outcome, broken = parse(proc.stdout + "\n" + proc.stderr, ctx)
    except json.JSONDecodeError as exc:
        raise failed("go test -race", argv, proc, f"its JSON output did not parse ({exc})",
                     "run 'go test -race -json ./...' by hand") from None
    if broken or (proc.returncode != 0 and not findings):
        raise failed("go test -race", argv, proc, "the tests did not build or run",
                     "make 'go test ./...' build in the module, then check again")
    return ToolOutput(findings=findings, command=("go", *argv[1:]), tests=outcome,
                      version=execute([go, "env", "GOVERSION"], ctx, tool="go env").stdout.strip())
