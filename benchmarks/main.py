# ruff: noqa: E501
"""`python -m benchmarks.main [--repeat N] [--only build,sbom,check,verify,copy,scale]`.

Runs each area side by side with its peers, then writes benchmarks/results.md and .json.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

from benchmarks.env import Bench
from benchmarks.harness import ROOT, Row, machine_facts, write_reports

AREAS = ("build", "service", "sbom", "check", "verify", "copy", "realistic", "scale", "hostile", "promote",
         "bundle", "demo")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median); default 3")
    parser.add_argument("--only", default=",".join(AREAS), help=f"comma-separated areas of {AREAS}")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of results.json this run does not measure (rerun one area)")
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
    load_at_start, began = os.getloadavg(), time.perf_counter()
    failed: list[str] = []
    try:
        for area in areas:
            start = time.perf_counter()
            print(f"benchmarks: {area} ...", file=sys.stderr, flush=True)
            module = importlib.import_module(f"benchmarks.bench_{area}")
            try:
                new = module.run(bench)
            except Exception as exc:        # one broken area must not lose the others' numbers
                traceback.print_exc()
                failed.append(f"{area} ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]})"
                              if str(exc).strip() else f"{area} ({type(exc).__name__})")
                continue
            rows += new
            for row in new:
                print(f"  {row.task}: {row.sccheck:.3f} vs {row.peer_name} {row.peer} ({row.ratio_text})",
                      file=sys.stderr)
            print(f"benchmarks: {area} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    finally:
        bench.close()
    # The machine is shared: its load during the run is part of every number above.
    facts = {**machine_facts(), "load average (1, 5, 15 min) at start": _load(load_at_start),
             "at end": _load(os.getloadavg()), "run took": f"{(time.perf_counter() - began) / 60:.0f} min"}
    if failed:
        facts["areas that failed (no rows)"] = "; ".join(failed)
    repeat = args.repeat
    if args.merge:
        old = json.loads((ROOT / "benchmarks" / "results.json").read_text())
        rows, facts, repeat = _merged(old, rows, facts, areas, args.repeat)
    md, js = write_reports(rows, facts, repeat)
    print(md.read_text())
    print(f"benchmarks: wrote {md} and {js}", file=sys.stderr)
    return 1 if failed else 0


def _merged(old: dict[str, Any], rows: list[Row], facts: dict[str, str], areas: list[str],
            repeat: int) -> tuple[list[Row], dict[str, str], int]:
    """The earlier run's table with this run's rows in the places of the tasks it measured again
    (new tasks at the end); the machine line keeps the earlier run's facts and says which areas
    were measured again, when, with how many runs; the header keeps the earlier run count."""
    fields = {f.name for f in dataclasses.fields(Row)}
    # A task compared with several peers has one row per peer: a row is the task and its peer.
    fresh = {(r.task, r.peer_name): r for r in rows}
    earlier = [Row(**{k: v for k, v in r.items() if k in fields}) for r in old["rows"]]
    merged_rows = [fresh.pop((r.task, r.peer_name), r) for r in earlier] + list(fresh.values())
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    merged = {**old["machine"], f"measured again at {when}":
              f"{', '.join(areas)} ({repeat} run(s) each, load {facts['at end']})"}
    return merged_rows, merged, int(old.get("repeat", repeat))


def _load(avg: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.1f}" for v in avg)


if __name__ == "__main__":
    sys.exit(main())
