# ruff: noqa: E501
"""Verify: `sccheck verify` (signature + 4 attestations, one policy) vs `cosign verify` plus
`cosign verify-attestation` for each of the 4 types, on one image in a local registry with the
OCI 1.1 referrers API, signed keyless by the local dev-stack (Fulcio, Rekor v2, TSA).

Then a batch: 100 images, each with a keyless signature: one `sccheck verify --batch` vs one
`cosign verify` per image, measured once each (the target is a per-image cost of at most half
of cosign's per-image call)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench_copy import signed_image
from benchmarks.env import Bench, quiet_env, tool
from benchmarks.harness import Row, median_time, paired, sh

COSIGN_TYPES = ("slsaprovenance1", "cyclonedx", "vuln", "https://in-toto.io/attestation/test-result/v0.1")


def policy_text(issuer: str, identity: str) -> str:
    return "\n".join([
        "apiVersion: sccheck.dev/v1", "kind: Policy", "name: bench-gate",
        "identities:", f"  - issuer: '{issuer}'", f"    subject: '{identity}'",
        "signature: {}",
        "attestations:",
        "  provenance: {commitPresent: true}",
        "  sbom: {}",
        "  vulnerabilities: {maxSeverity: medium, maxAge: 7d}",
        "  tests: {allPassed: true}", ""])


def write_policy(bench: Bench) -> Path:
    stack = bench.dev_stack()
    path = bench.work / "verify" / "policy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(policy_text(stack.issuer, stack.identity))
    return path


def run(bench: Bench) -> list[Row]:
    reg = bench.registry("verify", "referrers")
    ref = signed_image(bench, reg.host, "team/verified", platforms="linux/amd64")
    stack = bench.dev_stack()
    policy = write_policy(bench)
    flags = ["--trusted-root", str(stack.trusted_root), "--certificate-identity", stack.identity,
             "--certificate-oidc-issuer", stack.issuer]
    cosign = tool("cosign")

    def ours() -> None:
        out = bench.sccheck("--json", "verify", ref, "--policy", str(policy), env=bench.sigstore_env())
        assert json.loads(out.stdout)["ok"] is True

    def theirs() -> None:
        sh([cosign, "verify", *flags, ref], env=quiet_env())
        for kind in COSIGN_TYPES:
            sh([cosign, "verify-attestation", "--type", kind, *flags, ref], env=quiet_env())

    ours(), theirs()
    rows = [Row("verify signature + 4 attestations (keyless, local Sigstore)", median_time(ours, bench.repeat),
                "cosign verify + 4x verify-attestation", median_time(theirs, bench.repeat),
                note="sccheck also evaluates the policy's conditions on each predicate")]
    rows.append(_far(bench, ref, policy, flags))
    rows.append(_batch(bench, reg, flags))
    return rows



def _far(bench: Bench, ref: str, policy: Path, flags: list[str]) -> Row:
    """The same verification against a registry that is not on loopback: every request to it
    waits FAR before the proxy forwards it. Both tools talk to the same proxy, in turns."""
    from benchmarks.proxy import FAR, CountingProxy

    host = ref.split("/", 1)[0]
    proxy = CountingProxy(host, latency=FAR)
    bench.on_close(proxy.stop)
    far = proxy.host + ref[len(host):]

    def ours() -> None:
        out = bench.sccheck("--json", "verify", far, "--policy", str(policy), env=bench.sigstore_env())
        assert json.loads(out.stdout)["ok"] is True

    def theirs() -> None:
        sh([tool("cosign"), "verify", *flags, far], env=quiet_env())
        for kind in COSIGN_TYPES:
            sh([tool("cosign"), "verify-attestation", "--type", kind, *flags, far], env=quiet_env())

    med, requests = paired({"sccheck": ours, "cosign": theirs}, bench.repeat, (proxy,))
    return Row(f"verify signature + 4 attestations, registry {FAR * 1000:.0f} ms away (keyless, local Sigstore)",
               med["sccheck"], "cosign verify + 4x verify-attestation", med["cosign"],
               note=f"each registry request waits {FAR * 1000:.0f} ms in the proxy; HTTP requests: sccheck "
                    f"{requests['sccheck']}, cosign {requests['cosign']}")


BATCH = 100


def _batch(bench: Bench, reg: object, flags: list[str]) -> Row:
    import time

    from supplychain.signing.api import sign_image
    from supplychain.stores import open_store
    from tests.signing.images import push_tiny_image

    stack = bench.dev_stack()
    refs = []
    for i in range(BATCH):
        ref = reg.ref(f"batch/app{i}", "v1")  # type: ignore[attr-defined]
        digest = push_tiny_image(open_store(ref), "v1", text=f"bench-verify-batch-{i}").digest
        sign_image(ref, trust_config=str(stack.trust_config), identity_token=stack.mint_token())
        refs.append(f"{ref.rsplit(':', 1)[0]}@{digest}")
    work = bench.work / "verify"
    (work / "batch.txt").write_text("\n".join(refs) + "\n")
    (work / "sig-policy.yaml").write_text("\n".join([
        "apiVersion: sccheck.dev/v1", "kind: Policy", "name: bench-batch", "identities:",
        f"  - issuer: '{stack.issuer}'", f"    subject: '{stack.identity}'", "signature: {}", ""]))
    start = time.perf_counter()
    out = bench.sccheck("--json", "verify", "--batch", str(work / "batch.txt"), "--policy",
                        str(work / "sig-policy.yaml"), env=bench.sigstore_env())
    ours = (time.perf_counter() - start) / BATCH
    assert json.loads(out.stdout)["summary"]["pass"] == BATCH
    start = time.perf_counter()
    for ref in refs:
        sh([tool("cosign"), "verify", *flags, ref], env=quiet_env())
    theirs = (time.perf_counter() - start) / BATCH
    return Row(f"verify --batch of {BATCH} images (keyless signature each): seconds per image", ours,
               "cosign verify, one call per image", theirs,
               note=f"one process, concurrency 4; totals: sccheck {ours * BATCH:.1f} s, cosign {theirs * BATCH:.1f} s")
