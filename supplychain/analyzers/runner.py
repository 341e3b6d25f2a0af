"""Run the analyzers concurrently (at most os.cpu_count() lanes at once), collect one result.

`check(CheckRequest)` is the one library call behind `sccheck check`: it validates the
request, runs the pre-test command and the tools, applies the project's severities,
fingerprints every finding, marks the suppressed ones (sccheck.yaml, baseline), writes the
baseline and SARIF when asked (atomically), and returns a `CheckResult` whose
`exit_code` is the verdict (0 pass, 1 findings above the thresholds, 3 a tool could not do
its job).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from supplychain.analyzers import govet, govulncheck, racetest, staticcheck, suppress
from supplychain.analyzers.base import DEFAULT_TIMEOUT, TestOptions, ToolContext, execute
from supplychain.analyzers.model import TOOLS, CheckResult, FailOn, ToolOutput, ToolRun
from supplychain.analyzers.rules import SeverityMap
from supplychain.errors import Error, ToolFailed, UsageError
from supplychain.gomodule import module_root
from supplychain.progress import Progress, SilentProgress

RUNNERS: dict[str, Callable[[ToolContext], ToolOutput]] = {
    govet.NAME: govet.run, staticcheck.NAME: staticcheck.run,
    govulncheck.NAME: govulncheck.run, racetest.NAME: racetest.run,
}

# Tools in one lane run one after another; lanes run concurrently, as many at once as there are
# cores, in this order. staticcheck follows vet because both need the compiled export data of
# every dependency: run side by side they compile the same packages twice (the build cache does
# not share work in flight), which on a small machine made a cold check slower than running the
# tools in sequence. govulncheck's lane starts first: it reads the database and type-checks from
# source, needing no build cache, and warm it is the longest tool (with reachability, ~3 of the
# ~4 s on examples/hello); queued behind the race lane on two cores it started last and ended
# last (measured on 2 cores, examples/hello: warm 4.30 -> 4.05 s, cold 102.5 -> 91.5 s).
LANES: tuple[tuple[str, ...], ...] = (("vuln",), ("vet", "staticcheck"), ("race",))


@dataclass(frozen=True)
class CheckRequest:
    path: Path
    tools: tuple[str, ...] = ()  # empty = every tool the mode allows
    vuln_db: str | None = None
    fail_on: FailOn = field(default_factory=FailOn)
    sarif: Path | None = None
    sarif_root: Path | None = None    # SARIF URIs relative to this (default: the git top level)
    env: Mapping[str, str] | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_workers: int | None = None
    packages: tuple[str, ...] = ()          # empty = ./...
    tests: TestOptions = field(default_factory=TestOptions)
    severities: SeverityMap = field(default_factory=SeverityMap)
    suppress: tuple[suppress.SuppressRule, ...] = ()
    baseline: Path | None = None
    write_baseline: Path | None = None


def parse_tools(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    unknown = [n for n in names if n not in TOOLS]
    if unknown or not names:
        raise UsageError(f"unknown tool(s) in --only: {', '.join(unknown) if unknown else repr(text)}",
                         expected="a comma-separated subset of " + ",".join(TOOLS),
                         found=text, fix="e.g. --only vet,staticcheck")
    return names


def _context(req: CheckRequest) -> tuple[ToolContext, tuple[str, ...], str]:
    path = req.path
    if not path.exists():
        raise UsageError(f"{path} does not exist", expected="a Go module directory or a Go binary",
                         found="no such file or directory", fix="pass the directory holding go.mod")
    env = dict(req.env if req.env is not None else os.environ)
    db = govulncheck.normalize_db(req.vuln_db)
    if path.is_file():
        tools = req.tools or (govulncheck.NAME,)
        if tools != (govulncheck.NAME,):
            raise UsageError(f"{path} is a file, so only the vuln scan (binary mode) applies",
                             expected="--only vuln (or no --only) for a binary",
                             found="--only " + ",".join(tools),
                             fix="pass the module directory to run vet, staticcheck and race tests")
        ctx = ToolContext(root=path.resolve().parent, binary=path.resolve(), vuln_db=db, env=env,
                          timeout=req.timeout)
        return ctx, tools, ""
    _, module = module_root(path)
    timeout = max(req.timeout, go_seconds(req.tests.timeout) + 60) if req.tests.timeout else req.timeout
    ctx = ToolContext(root=path.resolve(), vuln_db=db, env=env, timeout=timeout,
                      packages=req.packages or ("./...",), tests=req.tests, module=module)
    return ctx, (req.tools or TOOLS), module


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_seconds(duration: str) -> float:
    """Seconds in a Go duration string such as `1h30m` or `90s`."""
    return sum(float(n) * _GO_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)",
                                                                duration))


def _pre_test(ctx: ToolContext, command: str, progress: Progress) -> None:
    """Run the project's preparation command (`sh -c`, the tools' scrubbed environment) in the
    module root; failing is ToolFailed."""
    progress.step("pre-test", command)
    proc = execute(["sh", "-c", command], ctx, tool="the pre-test command")
    if proc.returncode != 0:
        raise ToolFailed(f"the pre-test command failed: {command}",
                         expected="exit status 0", found=f"exit status {proc.returncode}",
                         fix="run the command by hand in the module directory and fix it; "
                             "no tool ran",
                         facts={"command": command,
                                "output": (proc.stdout + proc.stderr).strip()[-4000:]})
    progress.done("pre-test", "ok")


def _run_one(name: str, ctx: ToolContext, progress: Progress) -> ToolRun:
    progress.step(name)
    began = time.monotonic()
    try:
        output = RUNNERS[name](ctx)
    except Error as err:
        seconds = time.monotonic() - began
        progress.done(name, f"could not run: {err.message}")
        return ToolRun(tool=name, status="failed", seconds=seconds, error=err.to_dict(),
                       diagnostics=err.diagnostics())
    seconds = time.monotonic() - began
    cached = " (the same files, Go, tool and database as a run before: its answer reused)" \
        if output.facts.get("cached") else ""
    progress.done(name, f"{len(output.findings)} finding(s){cached}")
    return ToolRun(tool=name, status="ok", seconds=seconds, output=output)


def _run_lane(lane: list[str], ctx: ToolContext, progress: Progress) -> list[ToolRun]:
    return [_run_one(name, ctx, progress) for name in lane]


def check(req: CheckRequest, progress: Progress | None = None) -> CheckResult:
    progress = progress or SilentProgress()
    ctx, tools, module = _context(req)
    baseline = suppress.read_baseline(req.baseline) if req.baseline is not None else None
    if req.tests.pre_test and ctx.mode == "source":
        _pre_test(ctx, req.tests.pre_test, progress)
    workers = req.max_workers or max(1, min(len(tools), os.cpu_count() or 1))
    started = datetime.now(UTC)
    began = time.monotonic()
    lanes = [[t for t in lane if t in tools] for lane in LANES]
    lanes = [lane for lane in lanes if lane]
    with ThreadPoolExecutor(max_workers=min(workers, len(lanes)),
                            thread_name_prefix="sccheck-check") as pool:
        futures = [pool.submit(_run_lane, lane, ctx, progress) for lane in lanes]
        by_tool = {run.tool: run for f in futures for run in f.result()}
    runs, notes, written = _judge(tuple(by_tool[name] for name in tools), req, ctx, baseline,
                                  _iso(started))
    wall = time.monotonic() - began
    finished = datetime.now(UTC)
    skipped = tuple(ToolRun(tool=t, status="skipped", seconds=0.0) for t in TOOLS if t not in tools)
    result = CheckResult(path=str(req.path), root=str(ctx.root), mode=ctx.mode, module=module,
                         tools=runs + skipped, fail_on=req.fail_on,
                         started=_iso(started), finished=_iso(finished), wall_seconds=wall,
                         notes=tuple(notes))
    outputs = written + _write_outputs(result, req)
    if outputs:
        result = replace(result, outputs=outputs)
    return result


def _judge(runs: tuple[ToolRun, ...], req: CheckRequest, ctx: ToolContext,
           baseline: suppress.Baseline | None, started: str,
           ) -> tuple[tuple[ToolRun, ...], list[str], tuple[str, ...]]:
    """Severities, fingerprints and suppressions over every tool's findings, in one pass so
    fingerprints of equal findings count across tools in a stable order."""
    findings = [req.severities.apply(f) for run in runs for f in run.findings]
    findings = suppress.fingerprint_all(findings, ctx.root)
    written: tuple[str, ...] = ()
    if req.write_baseline is not None:
        marked, _ = suppress.apply(findings, req.suppress, None)
        suppress.write_baseline(req.write_baseline, marked, ctx.module, started)
        known = frozenset(f.fingerprint for f in marked if f.suppressed is None)
        baseline = suppress.Baseline(str(req.write_baseline), known, started)
        written = (str(req.write_baseline),)
    findings, notes = suppress.apply(findings, req.suppress, baseline)
    if baseline is not None:
        known_now = sum(1 for f in findings if f.suppressed and f.suppressed.source.startswith("baseline"))
        notes.append(f"baseline {baseline.path}: {known_now} known finding(s) not counted; "
                     "only new findings fail the check")
    out: list[ToolRun] = []
    i = 0
    for run in runs:
        n = len(run.findings)
        if run.output is not None:
            run = replace(run, output=replace(run.output, findings=tuple(findings[i:i + n])))
        out.append(run)
        i += n
    return tuple(out), notes, written


def _write_outputs(result: CheckResult, req: CheckRequest) -> tuple[str, ...]:
    from supplychain.analyzers import sarif

    written: list[str] = []
    if req.sarif is not None:
        sarif.write(result, req.sarif, req.sarif_root)
        written.append(str(req.sarif))
    return tuple(written)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
