"""SBOM: `sccheck sbom` vs `syft scan` (CycloneDX JSON) on the same OCI layouts, the images
`sccheck build` makes of examples/hello and benchmarks/inputs/bigsvc (static base)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from benchmarks.bench_build import INPUTS, PLATFORM
from benchmarks.env import Bench, quiet_env, tool
from benchmarks.harness import Row, median_time, sh


def run(bench: Bench) -> list[Row]:
    return [_one(bench, name, src) for name, src in INPUTS.items()]


def _one(bench: Bench, name: str, src: Path) -> Row:
    layout = bench.work / "sbom" / name
    shutil.rmtree(layout, ignore_errors=True)
    bench.sccheck("build", str(src), "--platform", PLATFORM, "--output", f"oci:{layout}")

    def ours() -> subprocess.CompletedProcess[str]:
        return bench.sccheck("sbom", f"oci:{layout}:latest")

    def theirs() -> subprocess.CompletedProcess[str]:
        return sh([tool("syft"), "scan", f"oci-dir:{layout}", "-o", "cyclonedx-json", "-q"], env=quiet_env())

    ours(), theirs()          # warm: page cache, syft's first-run setup
    t_ours = median_time(ours, bench.repeat)
    t_theirs = median_time(theirs, bench.repeat)
    n_ours = len(json.loads(ours().stdout).get("components", []))
    n_theirs = len(json.loads(theirs().stdout).get("components", []))
    return Row(f"sbom {name} image (OCI layout)", t_ours, "syft scan -o cyclonedx-json", t_theirs,
               note=f"components: sccheck {n_ours}, syft {n_theirs}")
