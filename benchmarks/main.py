# ruff: noqa: E501
"""`python -m benchmarks.main [--repeat N] [--only build,sbom,check,verify,copy,scale]`.

Runs each area side by side with its peers, then writes benchmarks/results.md and .json.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import sys
import time

from benchmarks.env import Bench
from benchmarks.harness import ROOT, Row, machine_facts, write_reports

AREAS = ("build", "sbom", "check", "verify", "copy", "realistic", "scale", "hostile", "promote", "bundle")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median); default 3")
    parser.add_argument("--only", default=",".join(AREAS), help=f"comma-separated areas of {AREAS}")
    args = parser.parse_args(argv)
    areas = [a.strip() for a in args.only.split(",") if a.strip()]
    unknown = [a for a in areas if a not in AREAS]
    if unknown or args.repeat < 1:
        parser.error(f"unknown areas {unknown} (choose from {AREAS}) or --repeat < 1")
    # As installed (pip writes bytecode at install time): a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module from source on each call.
    compileall.compile_dir(ROOT / "supplychain", quiet=1)
    bench = Bench(repeat=args.repeat)
    rows: list[Row] = []
    try:
        for area in areas:
            start = time.perf_counter()
            print(f"benchmarks: {area} ...", file=sys.stderr, flush=True)
            module = importlib.import_module(f"benchmarks.bench_{area}")
            new = module.run(bench)
            rows += new
            for row in new:
                print(f"  {row.task}: {row.sccheck:.3f} vs {row.peer_name} {row.peer} ({row.ratio_text})",
                      file=sys.stderr)
            print(f"benchmarks: {area} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    finally:
        bench.close()
    md, js = write_reports(rows, machine_facts(), args.repeat)
    print(md.read_text())
    print(f"benchmarks: wrote {md} and {js}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
