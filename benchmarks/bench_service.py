"""A real service: go-containerregistry's `cmd/registry` at a pinned version from the Go module
proxy (tests/helpers/goservice.py), built by `sccheck build --main ./cmd/registry` and by
`ko build ./cmd/registry` with the same flags (linux/amd64, `-trimpath -ldflags "-s -w -buildid="`,
CGO off, sccheck's static files as ko's base), both writing an OCI layout.

warm: the host's Go build cache, already holding every dependency (each run recompiles only
what a fresh stamp file in the main package changes). cold: an empty GOCACHE per run, so every
package of the build list is compiled; the module cache stays warm (no network is measured).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from pathlib import Path

from benchmarks.bench_build import LDFLAGS, PLATFORM, _ko_base
from benchmarks.env import Bench, quiet_env, tool
from benchmarks.harness import Row, replace_section, sh, table
from benchmarks.layout import image_size
from tests.helpers import goservice


def run(bench: Bench) -> list[Row]:
    work = bench.work / "service"
    shutil.rmtree(work, ignore_errors=True)
    src = goservice.fetch(work / "src")
    base = _ko_base(bench)
    main_dir = src / goservice.MAIN
    out = work / "out"
    stamp = (f"{time.time_ns()}-{n}" for n in range(1_000_000))   # never one an earlier run used
    go_env = {"CGO_ENABLED": "0", "GOFLAGS": "", "GOTOOLCHAIN": "local"}
    ko_env = {**quiet_env(), **go_env, "KO_DOCKER_REPO": f"{bench.registry('build').host}/ko/registry",
              "KO_DEFAULTBASEIMAGE": base}

    def sccheck(cache: dict[str, str]) -> None:
        bench.sccheck("--json", "build", str(src), "--main", goservice.MAIN, "--platform", PLATFORM,
                      "--output", f"oci:{out / 'sccheck'}", env=cache)

    def ko(cache: dict[str, str]) -> None:
        sh([tool("ko"), "build", "--bare", "--platform", PLATFORM, "--push=false", "--sbom=none",
            f"--ldflags={LDFLAGS}", "--oci-layout-path", str(out / "ko"), goservice.MAIN],
           cwd=src, env={**ko_env, **cache})

    cases = {"sccheck": sccheck, "ko": ko}

    def once(case: str, cold: bool) -> float:
        (main_dir / "zz_bench_stamp.go").write_text(f'package main\n\nvar benchStamp = "{next(stamp)}"\n')
        shutil.rmtree(out / case, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        cache: dict[str, str] = {}
        if cold:
            fresh = work / f"gocache-{case}"
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir(parents=True)
            cache = {"GOCACHE": str(fresh)}
        start = time.perf_counter()
        cases[case](cache)
        return time.perf_counter() - start

    for case in cases:          # warm the host's Go cache and ko's base, untimed
        once(case, cold=False)
    samples: dict[str, list[float]] = {f"{c} {k}": [] for c in cases for k in ("warm", "cold")}
    for _ in range(bench.repeat):
        for case in cases:
            samples[f"{case} warm"].append(once(case, cold=False))
            samples[f"{case} cold"].append(once(case, cold=True))
    med = {k: statistics.median(v) for k, v in samples.items()}
    sizes = {case: image_size(out / case) for case in cases}
    rows = [
        Row(f"build {goservice.MODULE}/cmd/registry@{goservice.VERSION}: warm Go cache", med["sccheck warm"],
            "ko build", med["ko warm"]),
        Row(f"build {goservice.MODULE}/cmd/registry@{goservice.VERSION}: cold Go cache", med["sccheck cold"],
            "ko build", med["ko cold"], note="empty GOCACHE per run; module cache warm"),
        Row(f"image size {goservice.MODULE}/cmd/registry (static base)", sizes["sccheck"], "ko build",
            sizes["ko"], unit="B"),
    ]
    for r in rows:
        r.extra = {k: round(v, 4) for k, v in med.items()}
    return rows


def write_section(rows: list[Row], repeat: int) -> Path:
    lines = ["## A real service vs ko (`python -m benchmarks.bench_service [REPEAT]`)", "",
             f"Medians of {repeat} run(s) on the shared 2-core machine; CLI start-up included. "
             + " ".join((__doc__ or "").split()), "", *table(rows), "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on the machine above."]
    return replace_section("service", lines)


if __name__ == "__main__":
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    bench = Bench(repeat=repeat)
    try:
        found = run(bench)
    finally:
        bench.close()
    print(f"wrote {write_section(found, repeat)}", file=sys.stderr)
