"""Run the analyzers concurrently (at most os.cpu_count() lanes at once), collect one result.

`check(CheckRequest)` is the one library call behind `sccheck check`: it validates the
request, runs the tools, writes SARIF and predicates when asked (atomically), and returns a
`CheckResult` whose `exit_code` is the verdict (0 pass, 1 findings above the thresholds,
3 a tool could not do its job).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from supplychain.analyzers import govet, govulncheck, racetest, staticcheck
from supplychain.analyzers.base import DEFAULT_TIMEOUT, ToolContext
from supplychain.analyzers.model import TOOLS, CheckResult, FailOn, ToolOutput, ToolRun
from supplychain.errors import Error, UsageError
from supplychain.progress import Progress, SilentProgress

RUNNERS: dict[str, Callable[[ToolContext], ToolOutput]] = {
    govet.NAME: govet.run, staticcheck.NAME: staticcheck.run,
    govulncheck.NAME: govulncheck.run, racetest.NAME: racetest.run,
}

# Tools in one lane run one after another; lanes run concurrently. staticcheck follows vet
# because both need the compiled export data of every dependency: run side by side they
# compile the same packages twice (the build cache does not share work in flight), which on a
# small machine made a cold check slower than running the tools in sequence.
LANES: tuple[tuple[str, ...], ...] = (("vet", "staticcheck"), ("race",), ("vuln",))


@dataclass(frozen=True)
class CheckRequest:
    path: Path
    tools: tuple[str, ...] = ()  # empty = every tool the mode allows
    vuln_db: str | None = None
    fail_on: FailOn = field(default_factory=FailOn)
    sarif: Path | None = None
    predicates_dir: Path | None = None
    env: Mapping[str, str] | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_workers: int | None = None


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
    gomod = path / "go.mod"
    if not gomod.is_file():
        raise UsageError(f"{path} is not a Go module", expected=f"{gomod}", found="no go.mod",
                         fix="pass the directory that holds go.mod (or a built Go binary)")
    module = ""
    for line in gomod.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("module "):
            module = line.split()[1].strip('"')
            break
    ctx = ToolContext(root=path.resolve(), vuln_db=db, env=env, timeout=req.timeout)
    return ctx, (req.tools or TOOLS), module


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
    progress.done(name, f"{len(output.findings)} finding(s)")
    return ToolRun(tool=name, status="ok", seconds=seconds, output=output)


def _run_lane(lane: list[str], ctx: ToolContext, progress: Progress) -> list[ToolRun]:
    return [_run_one(name, ctx, progress) for name in lane]


def check(req: CheckRequest, progress: Progress | None = None) -> CheckResult:
    progress = progress or SilentProgress()
    ctx, tools, module = _context(req)
    workers = req.max_workers or max(1, min(len(tools), os.cpu_count() or 1))
    started = datetime.now(UTC)
    began = time.monotonic()
    lanes = [[t for t in lane if t in tools] for lane in LANES]
    lanes = [lane for lane in lanes if lane]
    with ThreadPoolExecutor(max_workers=min(workers, len(lanes)),
                            thread_name_prefix="sccheck-check") as pool:
        futures = [pool.submit(_run_lane, lane, ctx, progress) for lane in lanes]
        by_tool = {run.tool: run for f in futures for run in f.result()}
    runs = tuple(by_tool[name] for name in tools)
    wall = time.monotonic() - began
    finished = datetime.now(UTC)
    skipped = tuple(ToolRun(tool=t, status="skipped", seconds=0.0) for t in TOOLS if t not in tools)
    result = CheckResult(path=str(req.path), root=str(ctx.root), mode=ctx.mode, module=module,
                         tools=runs + skipped, fail_on=req.fail_on,
                         started=_iso(started), finished=_iso(finished), wall_seconds=wall)
    outputs = _write_outputs(result, req)
    if outputs:
        result = replace(result, outputs=outputs)
    return result


def _write_outputs(result: CheckResult, req: CheckRequest) -> tuple[str, ...]:
    from supplychain.analyzers import predicates, sarif

    written: list[str] = []
    if req.sarif is not None:
        sarif.write(result, req.sarif)
        written.append(str(req.sarif))
    if req.predicates_dir is not None:
        written += [str(p) for p in predicates.write_all(result, req.predicates_dir)]
    return tuple(written)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
