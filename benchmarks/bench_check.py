"""Checks: `sccheck check` (vet, staticcheck, govulncheck, race tests in parallel lanes) vs the
same four tools run one after another by hand, on examples/hello and benchmarks/inputs/bigsvc,
warm caches, the offline vulnerability database of examples/vulndb for both."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from benchmarks.bench_build import INPUTS
from benchmarks.env import Bench, tool
from benchmarks.harness import ROOT, Row, median_time, sh

VULN_DB = ROOT / "examples" / "vulndb"


def run(bench: Bench) -> list[Row]:
    return [*(row for name, src in INPUTS.items() for row in _one(bench, name, src)),
            _cold(bench, "hello", INPUTS["hello"])]


def _sequential(src: Path, cache: dict[str, str] | None = None) -> None:
    env = {"GOFLAGS": "-mod=mod", **(cache or {})}
    sh(["go", "vet", "./..."], cwd=src, env=env)
    sh([tool("staticcheck"), "./..."], cwd=src, env=env)
    sh([tool("govulncheck"), "-db", VULN_DB.as_uri(), "./..."], cwd=src, env=env)
    sh(["go", "test", "-race", "-vet=off", "./..."], cwd=src, env={**env, "CGO_ENABLED": "1"})


def _one(bench: Bench, name: str, src: Path) -> list[Row]:
    def ours(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return bench.sccheck("check", str(src), "--vuln-db", str(VULN_DB), env=env)

    def theirs() -> None:
        _sequential(src)

    fresh_scan = {"SCCHECK_RESULT_CACHE": "0"}
    ours(), theirs()        # warm the build and analysis caches for both (and sccheck's answer cache)
    t_ours = median_time(ours, bench.repeat)
    t_scan = median_time(lambda: ours(fresh_scan), bench.repeat)
    t_theirs = median_time(theirs, bench.repeat)
    note = f"warm caches, {os.cpu_count()} cores"
    return [Row(f"check {name}: vet + staticcheck + govulncheck + race", t_ours,
                "the four tools one after another", t_theirs,
                note=note + "; govulncheck's answer for the unchanged module and database reused"),
            Row(f"check {name}: the same, govulncheck run again (SCCHECK_RESULT_CACHE=0)", t_scan,
                "the four tools one after another", t_theirs, note=note)]


def _cold(bench: Bench, name: str, src: Path) -> Row:
    """Cold caches: an empty Go build cache and an empty user cache (staticcheck's) for each run,
    so the standard library is compiled again with and without -race; pairs alternate."""
    samples: dict[str, list[float]] = {"sccheck": [], "peers": []}

    def fresh(case: str) -> dict[str, str]:
        root = bench.work / "check-cold" / case
        shutil.rmtree(root, ignore_errors=True)
        (root / "go").mkdir(parents=True)
        (root / "user").mkdir()
        return {"GOCACHE": str(root / "go"), "XDG_CACHE_HOME": str(root / "user"),
                "SCCHECK_CACHE_DIR": str(root / "user" / "sccheck")}   # no answer cached either

    runs = max(1, bench.repeat // 2)
    for _ in range(runs):
        cache = fresh("sccheck")
        start = time.perf_counter()
        bench.sccheck("check", str(src), "--vuln-db", str(VULN_DB), env=cache)
        samples["sccheck"].append(time.perf_counter() - start)
        cache = fresh("peers")
        start = time.perf_counter()
        _sequential(src, cache)
        samples["peers"].append(time.perf_counter() - start)
    return Row(f"check {name}, cold caches: vet + staticcheck + govulncheck + race", min(samples["sccheck"]),
               "the four tools one after another", min(samples["peers"]),
               note=f"empty GOCACHE and user cache per run; best of {runs}, {os.cpu_count()} cores")
