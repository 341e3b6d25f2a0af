"""`sccheck check PATH`: go vet, staticcheck, govulncheck and race tests → findings."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from supplychain.analyzers import CheckRequest, CheckResult, FailOn, check, parse_tools
from supplychain.cli._common import Options, emit, pass_options, run_guarded


def _human(result: CheckResult) -> str:
    lines = [f"sccheck check {result.path} ({result.mode} mode)"]
    for run in result.tools:
        if run.status == "skipped":
            lines.append(f"  {run.tool:<12} skipped")
            continue
        lines.append(f"  {run.tool:<12} {run.status:<7} {len(run.findings):>3} finding(s) "
                     f"{run.seconds:6.1f}s")
    findings = sorted(result.findings, key=lambda f: (-f.severity.rank, f.tool, f.rule))
    if findings:
        lines.append("findings:")
    for f in findings:
        mark = "✗" if result.fail_on.fails(f) else " "
        lines.append(f" {mark} {f.severity.value.upper():<8} {f.tool:<11} {f.rule:<13} "
                     f"{f.location or '-'}  {f.message}")
    for run in result.tools:
        if run.status == "failed":
            lines.append(f"{run.tool} could not run:")
            lines += ["  " + line for line in run.diagnostics.splitlines()]
    for out in result.outputs:
        lines.append(f"wrote {out}")
    verdict = {0: "PASSED", 1: "FAILED", 3: "INCOMPLETE (a tool could not run)"}[result.exit_code]
    lines.append(f"result: {verdict}: {len(result.failing)} finding(s) at or above the threshold "
                 f"({result.fail_on.describe()}); wall {result.wall_seconds:.1f}s, "
                 f"tools {result.tool_seconds:.1f}s")
    return "\n".join(lines)


@click.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--vuln-db", metavar="URL|DIR", default=None,
              help="Go vulnerability database (default https://vuln.go.dev).")
@click.option("--sarif", "sarif_path", type=click.Path(path_type=Path), default=None,
              help="Write SARIF 2.1.0 here.")
@click.option("--predicates-dir", type=click.Path(path_type=Path), default=None,
              help="Write test-result, vuln and OpenVEX predicates into this directory.")
@click.option("--only", default=None, metavar="TOOLS",
              help="Comma-separated subset of vet,staticcheck,vuln,race.")
@click.option("--fail-on", default="medium", show_default=True, metavar="LEVEL[,TOOL=LEVEL]",
              help="Severity (info|low|medium|high|critical|none) at or above which findings "
                   "fail the check; per tool with e.g. vuln=high,staticcheck=none.")
@pass_options
def check_cmd(opts: Options, path: Path, vuln_db: str | None, sarif_path: Path | None,
              predicates_dir: Path | None, only: str | None, fail_on: str) -> None:
    """Run go vet, staticcheck, govulncheck and race tests on the Go module at PATH.

    PATH may also be a built Go binary: then only govulncheck runs, in binary mode.
    Exit 0 when no finding reaches the threshold, 1 when one does, 3 when a tool could not run.
    """
    def call() -> CheckResult:
        request = CheckRequest(path=path, tools=parse_tools(only), vuln_db=vuln_db,
                               fail_on=FailOn.parse(fail_on), sarif=sarif_path,
                               predicates_dir=predicates_dir)
        return check(request, progress=opts.progress())

    result: CheckResult = run_guarded(opts, call)
    emit(opts, result.to_dict(), lambda r: _human(result), ok=result.exit_code == 0)
    if opts.json:
        for run in result.tools:
            if run.status == "failed":
                click.echo(run.diagnostics, err=True)
    sys.exit(result.exit_code)


def register(group: click.Group) -> None:
    group.add_command(check_cmd)
