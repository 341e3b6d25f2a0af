# ruff: noqa: E501
"""Side-by-side measurement helpers: medians of repeated runs, ratios, machine facts, reports."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"


@dataclass
class Row:
    task: str
    sccheck: float
    peer_name: str
    peer: float | None
    unit: str = "s"
    note: str = ""
    extra: dict[str, float | str] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """sccheck / peer: below 1 means sccheck is faster (or smaller)."""
        return self.sccheck / self.peer if self.peer else float("nan")

    @property
    def ratio_text(self) -> str:
        return "—" if self.peer is None or not self.peer else f"{self.ratio:.2f}"


def median_time(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    samples = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def paired(cases: Mapping[str, Callable[[], object]], repeat: int, proxies: Sequence[Any] = ()
           ) -> tuple[dict[str, float], dict[str, int]]:
    """A/B pairs: each repetition runs every case once, in turn, so load on the shared machine
    falls on all of them alike. Returns each case's median seconds and the requests the counting
    `proxies` saw during its last run."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    requests: dict[str, int] = {}
    for _ in range(repeat):
        for name, fn in cases.items():
            for proxy in proxies:
                proxy.reset()
            samples[name].append(median_time(fn, 1))
            requests[name] = sum(proxy.reset().requests for proxy in proxies)
    return {name: sorted(v)[len(v) // 2] for name, v in samples.items()}, requests


def sh(argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
       input: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), cwd=cwd, env={**os.environ, **(env or {})}, input=input,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def machine_facts() -> dict[str, str]:
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // (1024 * 1024)} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": str(os.cpu_count()), "cpu": cpu, "memory": mem, "go": go,
            "python": platform.python_version(), "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def write_reports(rows: list[Row], facts: dict[str, str], repeat: int) -> tuple[Path, Path]:
    lines = ["# sccheck benchmarks", "",
             f"Medians of {repeat} runs, side by side in one run on one machine. "
             "Ratio = sccheck / peer (below 1: sccheck is faster or smaller).", "", *table(rows)]
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), ""]
    md = ROOT / "benchmarks" / "results.md"
    # Sections other runs write (e.g. `python -m benchmarks.bench_hostile`) are kept as they are.
    old = md.read_text() if md.exists() else ""
    kept = old[old.index("<!-- "):] if "\n<!-- " in old else ""
    md.write_text("\n".join(lines) + ("\n" + kept if kept else ""))
    js = ROOT / "benchmarks" / "results.json"
    js.write_text(json.dumps({"machine": facts, "repeat": repeat,
                              "rows": [{**asdict(r), "ratio": r.ratio if r.peer else None} for r in rows]}, indent=2) + "\n")
    return md, js


def replace_section(key: str, lines: list[str]) -> Path:
    """Replace (or add) the `<!-- key: begin -->` ... `<!-- key: end -->` section of results.md,
    leaving the other rows alone (an area measured on its own)."""
    md = ROOT / "benchmarks" / "results.md"
    begin, end = f"<!-- {key}: begin -->", f"<!-- {key}: end -->"
    block = "\n".join([begin, "", *lines, "", end])
    text = md.read_text() if md.exists() else ""
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    md.write_text(text)
    return md


def table(rows: list[Row]) -> list[str]:
    """The rows as results.md's table."""
    lines = ["| task | sccheck | peer | peer value | ratio | note |", "|---|---|---|---|---|---|"]
    return lines + [f"| {r.task} | {_fmt(r.sccheck, r.unit)} | {r.peer_name} | {_fmt(r.peer, r.unit)} | "
                    f"{r.ratio_text} | {r.note} |" for r in rows]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "B":
        return f"{value / 1024:.1f} KiB" if value < 10 * 1024 * 1024 else f"{value / 1048576:.2f} MiB"
    return f"{value:g} {unit}"
