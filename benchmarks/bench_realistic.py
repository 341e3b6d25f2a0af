# ruff: noqa: E501
"""A realistic image: two platforms, each with three layers (a 2 MiB base, 6 MiB of
dependencies, a 32 MiB service binary; random bytes, so gzip cannot shrink them), a signature
and 7 attestations on the index (8 referrers). Measured side by side, registry to registry:

- copy with referrers: `sccheck copy --referrers` vs `oras copy -r` (the anchor);
- copy of the image only: `sccheck copy` vs `crane copy`;
- promote (verify at the source, copy with referrers, re-verify at the destination, sign a
  verification summary, move the tag) vs `oras copy -r`, which only copies;
- the two copies again with both registries FAR away: each request waits 20 ms in its proxy
  before it is forwarded (a registry in another region; the bytes still move at loopback speed).

The source registry has the referrers API, the destination is distribution 2.8 (fallback
index). Every request to either goes through a counting proxy (benchmarks/proxy.py).
Signing is key-based (no transparency log): the numbers are registry traffic and our own work.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile

import yaml

from benchmarks.bench_copy import oras_copy
from benchmarks.env import Bench, quiet_env, tool
from benchmarks.harness import Row, paired, sh
from benchmarks.proxy import FAR, CountingProxy

PASSWORD = "bench-only-password"  # a throwaway key for the benchmark
LAYERS = (("base", 2 << 20), ("deps", 6 << 20), ("app", 32 << 20))


def _layer(name: str, size: int, seed: int) -> bytes:
    data = random.Random(seed).randbytes(size)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"{name}/blob")
        info.size, info.mtime, info.mode = len(data), 0, 0o755
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)


def push_realistic(ref: str) -> str:
    """Write the two-platform image to `ref` with the library; returns the index digest."""
    import hashlib

    from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
    from supplychain.stores import open_store

    store = open_store(ref)
    children = []
    for p, arch in enumerate(("amd64", "arm64")):
        layers, diff_ids = [], []
        for i, (name, size) in enumerate(LAYERS):
            blob = _layer(name, size, seed=p * 10 + i)
            layers.append(store.write_blob(blob, Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, blob)))
            diff_ids.append("sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest())
        config = canonical_json({"architecture": arch, "os": "linux", "config": {"Entrypoint": ["/app/blob"]},
                                 "rootfs": {"type": "layers", "diff_ids": diff_ids}})
        cfg = store.write_blob(config, Descriptor.for_bytes(MediaType.OCI_CONFIG, config))
        manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                                   "config": cfg.to_dict() | {"mediaType": MediaType.OCI_CONFIG},
                                   "layers": [d.to_dict() | {"mediaType": MediaType.OCI_LAYER_GZIP} for d in layers]})
        digest = store.write_manifest(manifest, MediaType.OCI_MANIFEST, None)
        children.append(Descriptor(MediaType.OCI_MANIFEST, digest, len(manifest),
                                   platform={"os": "linux", "architecture": arch}).to_dict())
    index = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": children})
    return store.write_manifest(index, MediaType.OCI_INDEX, ref.rsplit(":", 1)[1])


def run(bench: Bench) -> list[Row]:
    from supplychain.signing.api import attest_image, sign_image
    from supplychain.signing.keys import generate_key_pair

    work = bench.work / "realistic"
    work.mkdir(parents=True, exist_ok=True)
    key = work / "bench"
    if not (work / "bench.key").exists():
        generate_key_pair(key, PASSWORD)
    src_reg = bench.registry("real-src", "referrers")
    dst_reg = bench.registry("real-dst", "distribution")
    src_proxy, dst_proxy = CountingProxy(src_reg.host), CountingProxy(dst_reg.host)
    bench.on_close(src_proxy.stop)
    bench.on_close(dst_proxy.stop)
    tagged = src_reg.ref("team/realistic", "v1")
    digest = push_realistic(tagged)
    sign_image(tagged, key=str(work / "bench.key"), key_password=PASSWORD)
    for i in range(7):
        attest_image(tagged, f"https://sccheck.dev/bench/step/{i}/v1", {"step": i}, key=str(work / "bench.key"),
                     key_password=PASSWORD)
    src = f"{src_proxy.host}/team/realistic@{digest}"
    policy = work / "policy.yaml"
    policy.write_text(yaml.safe_dump({
        "apiVersion": "sccheck.dev/v1", "kind": "Policy", "name": "bench-gate",
        "identities": [{"name": "bench-key", "publicKey": (work / "bench.pub").read_text(),
                        "UnsafeNoTransparencyLog": True}],
        "signature": {}}))
    env = {"SCCHECK_KEY_PASSWORD": PASSWORD}

    def dst(prefix: str) -> str:
        return f"{dst_proxy.host}/{bench.unique(prefix)}/realistic:v1"

    def promote() -> None:
        out = bench.sccheck("--json", "promote", src, dst("pr"), "--policy", str(policy),
                            "--key", str(work / "bench.key"), env=env)
        assert json.loads(out.stdout)["status"] == "promoted", out.stdout[-2000:]

    cases = {
        "sccheck copy -r": lambda: bench.sccheck("copy", "--referrers", src, dst("sc")),
        "oras copy -r": lambda: oras_copy(src, dst("or")),
        "sccheck copy": lambda: bench.sccheck("copy", src, dst("sco")),
        "crane copy": lambda: sh([tool("crane"), "copy", src, dst("cr")], env=quiet_env()),
        "sccheck promote": promote,
    }
    proxies = (src_proxy, dst_proxy)
    med, requests = paired(cases, bench.repeat, proxies)
    # The copies again with both registries FAR away (every request waits in the proxies).
    src_proxy.latency = dst_proxy.latency = FAR
    try:
        far, far_requests = paired({k: cases[k] for k in ("sccheck copy -r", "oras copy -r", "sccheck copy",
                                                          "crane copy")}, bench.repeat, proxies)
    finally:
        src_proxy.latency = dst_proxy.latency = 0.0
    med.update({f"far {k}": v for k, v in far.items()})
    requests.update({f"far {k}": v for k, v in far_requests.items()})

    def req(a: str, b: str) -> str:
        return f"HTTP requests: {a.removeprefix('far ')} {requests[a]}, {b.removeprefix('far ')} {requests[b]}"

    size = sum(s for _, s in LAYERS) * 2 / 1048576
    return [
        Row(f"realistic image ({size:.0f} MiB, 2 platforms x 3 layers, 8 referrers): copy with referrers",
            med["sccheck copy -r"], "oras copy -r", med["oras copy -r"], note=req("sccheck copy -r", "oras copy -r")),
        Row("realistic image: copy image only", med["sccheck copy"], "crane copy", med["crane copy"],
            note=req("sccheck copy", "crane copy")),
        Row("realistic image: promote (verify, copy with referrers, re-verify, sign a summary, tag)",
            med["sccheck promote"], "oras copy -r (copy only)", med["oras copy -r"],
            note=req("sccheck promote", "oras copy -r")),
        Row(f"realistic image, both registries {FAR * 1000:.0f} ms away: copy with referrers",
            med["far sccheck copy -r"], "oras copy -r", med["far oras copy -r"],
            note=req("far sccheck copy -r", "far oras copy -r")),
        Row(f"realistic image, both registries {FAR * 1000:.0f} ms away: copy image only", med["far sccheck copy"],
            "crane copy", med["far crane copy"], note=req("far sccheck copy", "far crane copy")),
    ]
