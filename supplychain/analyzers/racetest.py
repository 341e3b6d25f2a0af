"""`go test -race -json ./...` → data-race and test-failure findings, plus test outcomes.

The race detector needs cgo, so a C compiler (`go env CC`, normally gcc) must be installed;
without one this is a ToolMissing error. `-vet=off` because vet runs as its own tool.
Each `WARNING: DATA RACE` report becomes a `data-race` finding located at the first frame of
the first access that lies inside the module (else where the goroutine was created, else the
test function). A failed test without a race report becomes a `test-failed` finding for the
deepest failing subtest, located where it printed its failure (`-fullpath` gives the file) and
carrying its own output lines. A package that does not build is a tool failure.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from supplychain.analyzers.base import ToolContext, execute, failed
from supplychain.analyzers.model import Finding, Location, TestOutcome, ToolOutput
from supplychain.analyzers.rules import RACE_RULES
from supplychain.errors import ToolMissing
from supplychain.source import go_version
from supplychain.tools import find_tool

NAME = "race"
_ACCESS = re.compile(r"^(?:Previous )?(?P<kind>[Rr]ead|[Ww]rite|[Aa]tomic \w+).* by (?P<who>.+?):$")
_FRAME_FILE = re.compile(r"^\s+(?P<file>\S+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$")
_FRAME_FUNC = re.compile(r"^\s+(?P<func>\S+)\(.*\)$")
# `    /abs/path/x_test.go:12: message` (go test -fullpath) or `    x_test.go:12: message`
_LOG_LINE = re.compile(r"^\s+(?P<file>\S+\.go):(?P<line>\d+): (?P<text>.*)$")
_NOISE = ("=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- FAIL", "--- PASS", "--- SKIP")
MAX_DETAILS = 20


@dataclass
class _Package:
    output: dict[str, list[str]] = field(default_factory=dict)  # test name ("" = package) -> lines
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    build_failed: bool = False
    package_failed: bool = False


def parse(text: str, ctx: ToolContext) -> tuple[tuple[Finding, ...], TestOutcome, list[str]]:
    """(findings, test outcome, packages that failed to build) from `go test -json` lines."""
    packages: dict[str, _Package] = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        action = event.get("Action", "")
        if action == "build-output":
            continue
        pkg_name = str(event.get("Package", ""))
        pkg = packages.setdefault(pkg_name, _Package())
        test = str(event.get("Test", "") or "")
        if action == "output":
            pkg.output.setdefault(test, []).append(str(event.get("Output", "")))
        elif test and action in ("pass", "fail", "skip"):
            {"pass": pkg.passed, "fail": pkg.failed, "skip": pkg.skipped}[action].append(test)
        elif action == "fail" and not test:
            if event.get("FailedBuild"):
                pkg.build_failed = True
            else:
                pkg.package_failed = True
    findings: list[Finding] = []
    broken = [name for name, p in packages.items() if p.build_failed]
    for pkg_name, pkg in sorted(packages.items()):
        raced: set[str] = set()
        for test, lines in pkg.output.items():
            for report in _race_reports(lines):
                raced.update({test, *_parents(test)})
                findings.append(_race_finding(report, pkg_name, test, ctx))
        leaves = [t for t in pkg.failed if not any(o.startswith(t + "/") for o in pkg.failed)]
        for test in leaves:
            if test not in raced:
                findings.append(_test_failure(pkg_name, test, pkg.output.get(test, []), ctx))
        if pkg.package_failed and not pkg.failed and not pkg.build_failed and "" not in raced:
            findings.append(_test_failure(pkg_name, "", pkg.output.get("", []), ctx))
    outcome = TestOutcome(
        passed=tuple(sorted(f"{n}.{t}" for n, p in packages.items() for t in p.passed)),
        failed=tuple(sorted(f"{n}.{t}" for n, p in packages.items() for t in p.failed)),
        skipped=tuple(sorted(f"{n}.{t}" for n, p in packages.items() for t in p.skipped)))
    return tuple(findings), outcome, broken


def _parents(test: str) -> list[str]:
    parts = test.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def build_output(text: str) -> str:
    """The compiler's messages from a `go test -json` stream (build-output events, plain lines)."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("{"):
            lines.append(line + "\n")
        elif '"build-output"' in line:
            lines.append(str(json.loads(line).get("Output", "")))
    return "".join(lines).strip()[-4000:]


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


def module_location(ctx: ToolContext, filename: str, line: int) -> Location | None:
    """A frame's file as a place in the module, or None for the toolchain and dependencies.

    Absolute paths under the root are made relative; `-trimpath` builds print
    `MODULE/dir/file.go`, which is mapped through the module path."""
    if ctx.module and filename.startswith(ctx.module + "/"):
        return Location(path=filename[len(ctx.module) + 1:], line=line)
    if not filename.startswith("/"):
        return None
    rel = ctx.relpath(filename)
    if rel.startswith("/") or rel.startswith("vendor/"):
        return None
    return Location(path=rel, line=line)


def _race_finding(report: list[str], pkg: str, test: str, ctx: ToolContext) -> Finding:
    """Located at the first access frame inside the module; failing that, where the racing
    goroutine was created in the module; failing that, the test function's file."""
    accesses: list[tuple[str, str, Location | None, str]] = []  # kind, who, location, func
    created: Location | None = None
    func = ""
    in_creation = False
    for line in report:
        m = _ACCESS.match(line)
        if m:
            accesses.append((m["kind"].lower(), m["who"], None, ""))
            in_creation = False
            continue
        if line.startswith("Goroutine "):
            in_creation = True
            continue
        fm = _FRAME_FUNC.match(line)
        if fm:
            func = fm["func"]
            continue
        fl = _FRAME_FILE.match(line)
        if not fl:
            continue
        where = module_location(ctx, fl["file"], int(fl["line"]))
        if where is None:
            continue
        if in_creation:
            created = created or where
        elif accesses and accesses[-1][2] is None:
            kind, who, _, _ = accesses[-1]
            accesses[-1] = (kind, who, where, func)
    location = next((a[2] for a in accesses if a[2] is not None), None) or created \
        or _test_declaration(ctx, pkg, test)
    parts = [f"{kind} by {who} at {loc or 'outside the module'}" + (f" in {fn}" if fn else "")
             for kind, who, loc, fn in accesses]
    name = f"{pkg}.{test}" if test else pkg
    return Finding(tool=NAME, rule="data-race", severity=RACE_RULES["data-race"], location=location,
                   test=name, message=f"data race during {name}: " + "; ".join(parts))


def _package_dir(ctx: ToolContext, pkg: str) -> str | None:
    if ctx.module and (pkg == ctx.module or pkg.startswith(ctx.module + "/")):
        return pkg[len(ctx.module):].lstrip("/")
    return None


def _test_declaration(ctx: ToolContext, pkg: str, test: str) -> Location | None:
    """Where `func TestName(` is declared in the package's _test.go files."""
    directory = _package_dir(ctx, pkg)
    top = test.split("/", 1)[0]
    if directory is None or not top:
        return None
    decl = re.compile(r"^func\s+" + re.escape(top) + r"\s*\(")
    folder = ctx.root / directory
    for file in sorted(folder.glob("*_test.go")):
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, text in enumerate(lines, start=1):
            if decl.match(text):
                return Location(path=(Path(directory) / file.name).as_posix(), line=number)
    return None


def _failure_place(ctx: ToolContext, pkg: str, lines: list[str]) -> tuple[Location | None, str]:
    """The last `file.go:N: message` the test printed itself (t.Fatal ends a test, so the last
    is where it stopped), else the first stack frame of a panic inside the module."""
    directory = _package_dir(ctx, pkg)
    for raw in reversed(lines):
        m = _LOG_LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        file = m["file"]
        where = module_location(ctx, file, int(m["line"])) if "/" in file else \
            Location(path=(Path(directory) / file).as_posix(), line=int(m["line"])) \
            if directory is not None else None
        if where is not None:
            return where, m["text"].strip()
    for raw in lines:
        fl = _FRAME_FILE.match(raw.rstrip("\n"))
        if fl and (where := module_location(ctx, fl["file"], int(fl["line"]))) is not None:
            return where, ""
    return None, ""


def _test_failure(pkg: str, test: str, lines: list[str], ctx: ToolContext) -> Finding:
    own = [ln.rstrip("\n") for ln in lines if ln.strip() and not ln.lstrip().startswith(_NOISE)]
    own = [ln for ln in own if ln.strip() not in ("FAIL", "PASS") and not ln.startswith(("FAIL\t", "ok  \t"))]
    location, first = _failure_place(ctx, pkg, lines)
    if location is None:
        location = _test_declaration(ctx, pkg, test or "TestMain")
    name = f"{pkg}.{test}" if test else pkg
    why = first or (own[0].strip() if own else "it printed nothing (it called t.FailNow or t.Fail)")
    where = f" at {location}" if location else ""
    what = f"{name} failed{where}: {why}" if test else f"the tests of {pkg} failed{where}: {why}"
    details = tuple(_shorten(ln, ctx) for ln in _own_frames(own, ctx)[-MAX_DETAILS:])
    return Finding(tool=NAME, rule="test-failed", severity=RACE_RULES["test-failed"], test=name,
                   message=what, location=location, details=details)


def _own_frames(lines: list[str], ctx: ToolContext) -> list[str]:
    """A panic's stack without the toolchain's frames (each is a function line + a file line)."""
    out: list[str] = []
    for line in lines:
        fl = _FRAME_FILE.match(line)
        if fl and module_location(ctx, fl["file"], int(fl["line"])) is None:
            if out and not _FRAME_FILE.match(out[-1]):
                out.pop()
            continue
        out.append(line)
    return out


def _shorten(line: str, ctx: ToolContext) -> str:
    """A test's output line with the module root cut off its absolute file names."""
    root = str(ctx.root.resolve()) + "/"
    return line.replace(root, "")


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
    argv = [go, "test", "-race", "-vet=off", "-json", "-fullpath", *ctx.tests.flags(), *ctx.packages]
    proc = execute(argv, ctx, env=env, tool="go test -race")
    try:
        findings, outcome, broken = parse(proc.stdout + "\n" + proc.stderr, ctx)
    except json.JSONDecodeError as exc:
        raise failed("go test -race", argv, proc, f"its JSON output did not parse ({exc})",
                     "run 'go test -race -json ./...' by hand") from None
    if broken or (proc.returncode != 0 and not findings):
        err = failed("go test -race", argv, proc, "the tests did not build or run",
                     "make 'go test ./...' build in the module, then check again")
        err.facts["build output"] = build_output(proc.stdout + "\n" + proc.stderr)
        raise err
    return ToolOutput(findings=findings, command=("go", *argv[1:]), tests=outcome,
                      version=go_version(ctx.root))
