"""Checks: `sccheck check` (vet, staticcheck, govulncheck, race tests in parallel lanes) vs the
same four tools run one after another by hand, on examples/hello and benchmarks/inputs/bigsvc,
warm caches, the offline vulnerability database of examples/vulndb for both."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from benchmarks.bench_build import INPUTS
from benchmarks.env import Bench, tool
from benchmarks.harness import ROOT, Row, median_time, sh

VULN_DB = ROOT / "examples" / "vulndb"


def run(bench: Bench) -> list[Row]:
    return [_one(bench, name, src) for name, src in INPUTS.items()]


def _sequential(src: Path) -> None:
    env = {"GOFLAGS": "-mod=mod"}
    sh(["go", "vet", "./..."], cwd=src, env=env)
    sh([tool("staticcheck"), "./..."], cwd=src, env=env)
    sh([tool("govulncheck"), "-db", VULN_DB.as_uri(), "./..."], cwd=src, env=env)
    sh(["go", "test", "-race", "-vet=off", "./..."], cwd=src, env={**env, "CGO_ENABLED": "1"})


def _one(bench: Bench, name: str, src: Path) -> Row:
    def ours() -> subprocess.CompletedProcess[str]:
        return bench.sccheck("check", str(src), "--vuln-db", str(VULN_DB))

    def theirs() -> None:
        _sequential(src)

    ours(), theirs()        # warm the build and analysis caches for both
    t_ours = median_time(ours, bench.repeat)
    t_theirs = median_time(theirs, bench.repeat)
    return Row(f"check {name}: vet + staticcheck + govulncheck + race", t_ours,
               "the four tools one after another", t_theirs,
               note=f"warm caches, {os.cpu_count()} cores")
