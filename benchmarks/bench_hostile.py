# ruff: noqa: E501
"""Hostile input: how fast, and in how much memory, sccheck refuses a 4 GiB gzip bomb layer and an
image with 2,000 referrers, and finishes verifying a good image that carries 999 junk referrers.

Each figure is one run of the real CLI in a subprocess (start-up included); peak memory is the
child's maximum resident set size. There is no peer: these are bounds sccheck promises.
`python -m benchmarks.bench_hostile` runs only this area and writes its section of results.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.env import Bench
from benchmarks.harness import ROOT, Row, replace_section

SIGNATURE = "https://sigstore.dev/cosign/sign/v1"
CPU: list[float] = []


def measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """(seconds, peak RSS MiB, exit code, stdout) of one run of `sccheck ARGV`; the CPU seconds
    (user + system) of the run go in CPU[-1], as wall time on a shared machine includes waiting."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "supplychain", *argv], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    CPU.append(usage.ru_utime + usage.ru_stime)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, proc.returncode, out


def _bomb(bench: Bench) -> list[Row]:
    from tests.hostile.crafted import GZIP, gzip_bomb, layout_with_layers

    path = bench.work / "hostile" / "bomb"
    if not (path / "index.json").exists():
        layout_with_layers(path, [(gzip_bomb(4 << 30), GZIP)])
    compressed = max(p.stat().st_size for p in (path / "blobs" / "sha256").iterdir())
    rows = []
    for name, argv in (("harden check", ["--json", "harden", "check", f"oci:{path}"]),
                       ("sbom", ["--json", "sbom", f"oci:{path}", "--output", str(path.parent / "bom.json")])):
        took, peak, code, out = measured(argv)
        message = json.loads(out)["message"]
        assert code == 3 and "decompression bomb" in message, (code, out[:500])
        rows.append(Row(f"refuse a 4 GiB gzip bomb layer ({compressed / 1048576:.1f} MiB compressed): {name}",
                        took, "—", None, note=f"CPU {CPU[-1]:.2f} s, peak RSS {peak:.0f} MiB; exit 3: {message}"))
    return rows


def _tiny_signed(bench: Bench, host: str, repo: str, sign: bool) -> tuple[str, object]:
    from supplychain.signing.api import sign_image
    from supplychain.stores import open_store
    from tests.signing.images import push_tiny_image

    ref = f"{host}/{repo}"
    img = push_tiny_image(open_store(ref), "v1")
    if sign:
        stack = bench.dev_stack()
        sign_image(ref + ":v1", trust_config=str(stack.trust_config), identity_token=stack.mint_token())
    return ref, img


def _policy(bench: Bench) -> Path:
    stack = bench.dev_stack()
    path = bench.work / "hostile" / "policy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"apiVersion: sccheck.dev/v1\nkind: Policy\nname: hostile\nidentities:\n"
                    f"  - issuer: '{stack.issuer}'\n    subject: '{stack.identity}'\nsignature: {{}}\n")
    return path


def _referrers(bench: Bench) -> list[Row]:
    from supplychain.signing.storage import attach_bundle
    from supplychain.stores import open_store

    reg = bench.registry("hostile", "referrers")
    policy = _policy(bench)
    env = bench.sigstore_env()
    rows = []
    ref, img = _tiny_signed(bench, reg.host, bench.unique("hostile/flood"), sign=False)
    store = open_store(ref)
    for n in range(2000):
        attach_bundle(store, img, f"junk {n}".encode(), SIGNATURE)  # type: ignore[arg-type]
    took, peak, code, out = measured(["--json", "verify", ref + ":v1", "--policy", str(policy)], env)
    message = json.loads(out)["message"]
    assert code == 3 and "more than 1000 referrers" in message, (code, out[:500])
    rows.append(Row("refuse an image with 2,000 referrers (verify)", took, "—", None,
                    note=f"CPU {CPU[-1]:.2f} s, peak RSS {peak:.0f} MiB; exit 3: {message}"))
    ref, img = _tiny_signed(bench, reg.host, bench.unique("hostile/junk"), sign=True)
    store = open_store(ref)
    for n in range(999):
        junk = (b"[" * 5000 + b"]" * 5000 + b" " * n if n % 3 == 0 else
                b'{"a":1,"a":%d}' % n if n % 3 == 1 else f"junk {n}".encode())  # each one different
        attach_bundle(store, img, junk, SIGNATURE)  # type: ignore[arg-type]
    took, peak, code, out = measured(["--json", "verify", ref + ":v1", "--policy", str(policy)], env)
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and len(doc["rejected"]) == 999, (code, out[:500])
    rows.append(Row("verify a good image that also carries 999 junk referrers", took, "—", None,
                    note=f"CPU {CPU[-1]:.2f} s, peak RSS {peak:.0f} MiB; exit 0, signature pass, 999 rejected with reasons"))
    return rows


def run(bench: Bench) -> list[Row]:
    return _bomb(bench) + _referrers(bench)


def write_section(rows: list[Row]) -> Path:
    """Replace (or add) the hostile-input section of results.md, leaving the other rows alone."""
    lines = ["## Hostile input (one run each, `python -m benchmarks.bench_hostile`)", "",
             "Wall time of the CLI (start-up included) on the shared 2-core machine; CPU is the run's user + system time.", "",
             "| task | sccheck | note |", "|---|---|---|"]
    lines += [f"| {r.task} | {r.sccheck:.2f} s | {r.note} |" for r in rows]
    lines += ["", f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on the machine above."]
    return replace_section("hostile", lines)


if __name__ == "__main__":
    bench = Bench(repeat=1)
    try:
        found = run(bench)
    finally:
        bench.close()
    for row in found:
        print(f"{row.task}: {row.sccheck:.2f} s  ({row.note})")
    print(f"wrote {write_section(found)}", file=sys.stderr)
