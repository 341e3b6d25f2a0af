# ruff: noqa: E501
"""Promotion at scale: registry requests and seconds per image for `sccheck promote --batch` of
100 images, on distribution 2.8 (no referrers API: the `sha256-<hex>` fallback index) and on the
referrers-capable registry, and for 4 shards of 25 (`--shard I/4`) run in parallel. Plus one
promotion of an image carrying a signature and 8 attestations.

Each source image is signed with a key (no transparency log, `UnsafeNoTransparencyLog` in the
policy): the numbers measure the registry traffic and our own work, not a Sigstore service. Each
promotion signs a verification summary with the same key. Every request goes through the
counting proxy (benchmarks/proxy.py), so seconds include its small overhead.

SCCHECK_BENCH_CLI_ROOT=DIR measures the CLI of another checkout (e.g. an older commit) with the
same setup, for before/after numbers (only the plain batch rows; older code has no --shard).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.env import Bench
from benchmarks.harness import ROOT, Row
from benchmarks.proxy import CountingProxy

N = 100
SHARDS = 4
PASSWORD = "bench-only-password"  # a throwaway key for the benchmark


def _cli_root() -> str:
    return os.environ.get("SCCHECK_BENCH_CLI_ROOT") or str(ROOT)


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    # Run from the measured checkout: `python -m` puts the working directory ahead of
    # PYTHONPATH, so from another checkout it would import that one's code.
    return subprocess.Popen([sys.executable, "-m", "supplychain", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=_cli_root(),
                            env={**os.environ, "PYTHONPATH": _cli_root(), **env})


def _finish(procs: list[subprocess.Popen[str]]) -> list[dict[str, object]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=3600)
        doc = json.loads(stdout) if stdout.strip() else {}
        if "summary" not in doc and "status" not in doc:
            raise RuntimeError(f"promote failed ({p.returncode}): {stdout[-1000:]} {stderr[-2000:]}")
        out.append(doc)
    return out


def _setup(bench: Bench, kind: str, key: Path) -> tuple[str, object]:
    from supplychain.signing.api import attest_image, sign_image
    from supplychain.stores import open_store
    from tests.signing.images import push_tiny_image

    reg = bench.registry(f"promote-{kind}", kind)
    for i in range(N):
        ref = reg.ref(f"staging/app{i}", "v1")
        push_tiny_image(open_store(ref), "v1", text=f"bench-promote-{kind}-{i}")
        sign_image(ref, key=str(key), key_password=PASSWORD)
    rich = reg.ref("staging/rich", "v1")
    push_tiny_image(open_store(rich), "v1", text=f"bench-rich-{kind}")
    sign_image(rich, key=str(key), key_password=PASSWORD)
    for i in range(8):
        attest_image(rich, f"https://sccheck.dev/bench/step/{i}/v1", {"step": i}, key=str(key),
                     key_password=PASSWORD)
    return kind, reg


def run(bench: Bench) -> list[Row]:
    from supplychain.signing.keys import generate_key_pair

    work = bench.work / "promote"
    work.mkdir(parents=True, exist_ok=True)
    key = work / "bench"
    if not (work / "bench.key").exists():
        generate_key_pair(key, PASSWORD)
    policy = work / "policy.yaml"
    pub = (work / "bench.pub").read_text()
    policy.write_text(yaml.safe_dump({
        "apiVersion": "sccheck.dev/v1", "kind": "Policy", "name": "bench-gate",
        "identities": [{"name": "bench-key", "publicKey": pub, "UnsafeNoTransparencyLog": True}],
        "signature": {}}))
    env = {"SCCHECK_KEY_PASSWORD": PASSWORD}
    common = ["--policy", str(policy), "--key", str(work / "bench.key")]
    rows: list[Row] = []
    older = bool(os.environ.get("SCCHECK_BENCH_CLI_ROOT"))
    for kind in ("distribution", "referrers"):
        start = time.perf_counter()
        _, reg = _setup(bench, kind, work / "bench.key")
        setup = time.perf_counter() - start
        proxy = CountingProxy(reg.host)  # type: ignore[attr-defined]
        bench.on_close(proxy.stop)
        label = "no referrers API (distribution 2.8)" if kind == "distribution" else "referrers API"
        sources = [f"{proxy.host}/staging/app{i}:v1" for i in range(N)]

        def batch_file(name: str, sources: list[str] = sources, kind: str = kind) -> Path:
            path = work / f"{kind}-{name}.yaml"
            path.write_text(yaml.safe_dump({"promotions": [
                {"source": s, "destination": s.replace("/staging/", f"/{name}/")} for s in sources]}))
            return path

        variants = [("batch", 1)] if older else [("batch", 1), ("shards", SHARDS)]
        for name, shards in variants:
            path = batch_file(name)
            for old in work.glob(f"{kind}-journal-*.json"):   # a fresh run, not a resumed one
                old.unlink()
            proxy.reset()
            start = time.perf_counter()
            if shards == 1:
                procs = [_run(["--json", "promote", "--batch", str(path), *common], env)]
            else:
                procs = [_run(["--json", "promote", "--batch", str(path), "--shard", f"{i}/{shards}",
                               "--journal", str(work / f"{kind}-journal-{i}.json"), *common], env)
                         for i in range(1, shards + 1)]
            results = _finish(procs)
            elapsed = time.perf_counter() - start
            counts = proxy.reset()
            promoted = sum(r["summary"]["promoted"] for r in results)  # type: ignore[index]
            what = f"promote --batch {N}" if shards == 1 else f"promote --batch {N} as {shards} parallel shards of {N // shards}"
            rows.append(Row(f"{what}, {label}: registry requests per image", counts.requests / N, "—", None,
                            unit="req", note=f"{counts.requests} requests, {promoted}/{N} promoted; by kind "
                            + ", ".join(f"{k} {v}" for k, v in sorted(counts.kinds.items()))))
            rows.append(Row(f"{what}, {label}: seconds per image", elapsed / N, "—", None,
                            note=f"total {elapsed:.1f} s wall" + (", concurrency 8" if shards == 1 else
                                                                  f", {shards} processes, concurrency 8 each")))
        if not older:
            proxy.reset()
            start = time.perf_counter()
            (one,) = _finish([_run(["--json", "promote", f"{proxy.host}/staging/rich:v1",
                                    f"{proxy.host}/prod/rich:v1", *common], env)])
            elapsed = time.perf_counter() - start
            counts = proxy.reset()
            rows.append(Row(f"promote one image with a signature and 8 attestations, {label}: registry requests",
                            counts.requests, "—", None, unit="req",
                            note=f"{one['status']} in {elapsed:.1f} s; by kind "
                            + ", ".join(f"{k} {v}" for k, v in sorted(counts.kinds.items()))))
        rows[-1].extra = {"setup_seconds": round(setup, 1)}
    return rows
