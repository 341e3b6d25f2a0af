"""`sccheck check PATH`: go vet, staticcheck, govulncheck and race tests → findings."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from supplychain.analyzers import CheckRequest, CheckResult, FailOn, check, parse_tools
from supplychain.analyzers.config import CheckSettings, check_duration, check_packages
from supplychain.attest.check import write_check_predicates
from supplychain.cli._common import Options, emit, pass_options, run_guarded


def _human(result: CheckResult) -> str:
    lines = [f"sccheck check {result.path} ({result.mode} mode)"]
    for run in result.tools:
        if run.status == "skipped":
            lines.append(f"  {run.tool:<12} skipped")
            continue
        lines.append(f"  {run.tool:<12} {run.status:<7} {len(run.findings):>3} finding(s) "
                     f"{run.seconds:6.1f}s")
    findings = sorted(result.findings, key=lambda f: (f.suppressed is not None, -f.severity.rank,
                                                      f.tool, f.rule))
    if findings:
        lines.append("findings (✗ fails the check, - suppressed):")
    for f in findings:
        mark = "✗" if result.fails(f) else "-" if f.suppressed else " "
        lines.append(f" {mark} {f.severity.value.upper():<8} {f.tool:<11} {f.rule:<13} "
                     f"{f.location or '-'}  {f.message}")
        lines += [f"       | {d}" for d in f.details]
        if f.suppressed:
            lines.append(f"       suppressed ({f.suppressed.kind}, {f.suppressed.source}): "
                         f"{f.suppressed.justification}")
        lines.append(f"       fingerprint {f.fingerprint}")
    for run in result.tools:
        if run.status == "failed":
            lines.append(f"{run.tool} could not run:")
            lines += ["  " + line for line in run.diagnostics.splitlines()]
    lines += [f"note: {n}" for n in result.notes]
    for out in result.outputs:
        lines.append(f"wrote {out}")
    verdict = {0: "PASSED", 1: "FAILED", 3: "INCOMPLETE (a tool could not run)"}[result.exit_code]
    quiet = f", {len(result.suppressed)} suppressed" if result.suppressed else ""
    lines.append(f"result: {verdict}: {len(result.failing)} finding(s) at or above the threshold "
                 f"({result.fail_on.describe()}){quiet}; wall {result.wall_seconds:.1f}s, "
                 f"tools {result.tool_seconds:.1f}s")
    return "\n".join(lines)


def _settings(path: Path, config: Path | None) -> CheckSettings:
    """The check section of --config, else of PATH/sccheck.yaml when PATH is a directory."""
    from supplychain.pipeline.config import load_config

    if config is None and not path.is_dir():
        return CheckSettings()
    return load_config(config, path).check


@click.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("packages", nargs=-1)
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file (default PATH/sccheck.yaml when present); flags win.")
@click.option("--vuln-db", metavar="URL|DIR", default=None,
              help="Go vulnerability database (default https://vuln.go.dev).")
@click.option("--sarif", "sarif_path", type=click.Path(path_type=Path), default=None,
              help="Write SARIF 2.1.0 here.")
@click.option("--sarif-root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Make SARIF paths relative to this directory (default: the git repository root).")
@click.option("--predicates-dir", type=click.Path(path_type=Path), default=None,
              help="Write test-result, vuln and OpenVEX predicates into this directory.")
@click.option("--only", default=None, metavar="TOOLS",
              help="Comma-separated subset of vet,staticcheck,vuln,race.")
@click.option("--fail-on", default=None, metavar="LEVEL[,TOOL=LEVEL]",
              help="Severity (info|low|medium|high|critical|none) at or above which findings "
                   "fail the check; per tool with e.g. vuln=high,staticcheck=none. Default medium.")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Only findings not in this baseline file count.")
@click.option("--write-baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the current findings' fingerprints here (they then do not count).")
@click.option("--short", is_flag=True, default=None, help="go test -short.")
@click.option("--timeout", "test_timeout", metavar="DURATION", help="go test -timeout (e.g. 10m).")
@click.option("--run", "test_run", metavar="REGEX", help="go test -run: only these tests.")
@click.option("--count", "test_count", type=click.IntRange(min=1), help="go test -count.")
@click.option("--pre-test", metavar="COMMAND",
              help="Shell command run in the module before the tools (e.g. 'make fixtures').")
@pass_options
def check_cmd(opts: Options, path: Path, packages: tuple[str, ...], config_file: Path | None,
              vuln_db: str | None, sarif_path: Path | None, sarif_root: Path | None,
              predicates_dir: Path | None,
              only: str | None, fail_on: str | None, baseline: Path | None,
              write_baseline: Path | None, short: bool | None, test_timeout: str | None,
              test_run: str | None, test_count: int | None, pre_test: str | None) -> None:
    """Run go vet, staticcheck, govulncheck and race tests on the Go module at PATH.

    PACKAGES are Go package patterns for every tool (default ./...). PATH may also be a built
    Go binary: then only govulncheck runs, in binary mode. Exit 0 when no finding reaches the
    threshold, 1 when one does, 2 for a bad request, 3 when a tool could not run.
    """
    def call() -> CheckResult:
        cfg = _settings(path, config_file)
        flags: dict[str, Any] = {
            "short": short, "timeout": test_timeout and check_duration(test_timeout, "--timeout"),
            "run": test_run, "count": test_count, "pre_test": pre_test}
        tests = replace(cfg.tests, **{k: v for k, v in flags.items() if v})
        request = CheckRequest(
            path=path, tools=parse_tools(only or ",".join(cfg.only)),
            vuln_db=vuln_db or cfg.vuln_db, fail_on=FailOn.parse(fail_on or cfg.fail_on or "medium"),
            sarif=sarif_path, sarif_root=sarif_root,
            packages=check_packages(packages, "PACKAGES") if packages else cfg.packages,
            tests=tests, severities=cfg.severities, suppress=cfg.suppress,
            baseline=baseline or (Path(cfg.baseline) if cfg.baseline else None),
            write_baseline=write_baseline)
        result = check(request, progress=opts.progress())
        return write_check_predicates(result, predicates_dir) if predicates_dir else result

    result: CheckResult = run_guarded(opts, call)
    emit(opts, result.to_dict(), lambda r: _human(result), ok=result.exit_code == 0)
    if opts.json:
        for run in result.tools:
            if run.status == "failed":
                click.echo(run.diagnostics, err=True)
    sys.exit(result.exit_code)


def register(group: click.Group) -> None:
    group.add_command(check_cmd)
