"""Scale: `sccheck promote --batch` of N = 1, 10, 100 signed images (each with a keyless
signature from the local dev-stack) between two repositories of one registry with the OCI 1.1
referrers API; a signed verification summary (VSA) per promotion, as by default. Time per image
and registry requests per image, counted by a proxy in front of the registry (every request of
the run goes through it, so times include the proxy's small overhead). Measured once per N."""

from __future__ import annotations

import json
import time

import yaml

from benchmarks.bench_verify import policy_text
from benchmarks.env import Bench
from benchmarks.harness import Row
from benchmarks.proxy import CountingProxy

SIZES = (1, 10, 100)


def _signed_sources(bench: Bench, host: str, count: int) -> list[str]:
    from supplychain.signing.api import sign_image
    from supplychain.stores import open_store
    from tests.signing.images import push_tiny_image

    stack = bench.dev_stack()
    refs = []
    for i in range(count):
        ref = f"{host}/staging/app{i}:v1"
        push_tiny_image(open_store(ref), "v1", text=f"bench-app-{i}")
        sign_image(ref, trust_config=str(stack.trust_config), identity_token=stack.mint_token())
        refs.append(ref)
    return refs


def run(bench: Bench) -> list[Row]:
    reg = bench.registry("scale", "referrers")
    proxy = CountingProxy(reg.host)
    bench.on_close(proxy.stop)
    stack = bench.dev_stack()
    start = time.perf_counter()
    sources = _signed_sources(bench, proxy.host, max(SIZES))
    setup = time.perf_counter() - start
    policy = bench.work / "scale" / "policy.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(policy_text(stack.issuer, stack.identity).split("attestations:")[0])
    rows = []
    for n in SIZES:
        batch = bench.work / "scale" / f"batch-{n}.yaml"
        batch.write_text(yaml.safe_dump({"promotions": [
            {"source": src, "destination": src.replace("/staging/", f"/prod{n}/")} for src in sources[:n]]}))
        proxy.reset()
        start = time.perf_counter()
        out = bench.sccheck("--json", "promote", "--batch", str(batch), "--policy", str(policy),
                            env=bench.sigstore_env())
        elapsed = time.perf_counter() - start
        counts = proxy.reset()
        result = json.loads(out.stdout)
        promoted = sum(1 for r in result.get("results", []) if r.get("status") == "promoted")
        rows.append(Row(f"promote batch N={n}: time per image", elapsed / n, "—", None,
                        note=f"total {elapsed:.1f} s, {promoted}/{n} promoted, concurrency 8"))
        rows.append(Row(f"promote batch N={n}: registry requests per image", counts.requests / n, "—", None,
                        unit="req", note=f"{counts.requests} requests, "
                        f"{(counts.bytes_up + counts.bytes_down) / n / 1024:.1f} KiB per image"))
    rows[0].extra = {"setup_sign_seconds": round(setup, 1)}
    return rows
