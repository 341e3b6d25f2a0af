# ruff: noqa: E501
"""Copy: a two-platform image of examples/hello with a signature and 4 attestations (OCI 1.1
referrers) between two registries: `sccheck copy --referrers` vs `skopeo copy --all` vs
`crane copy` vs `oras copy -r`. skopeo and crane copy the image only (neither follows
referrers); `oras copy -r` is the anchor for copying with referrers (cosign deprecated
`cosign copy` for it). Then bytes moved between two repositories of one registry (blob mount),
counted by a proxy in front of the registry."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

from benchmarks.bench_build import INPUTS
from benchmarks.env import Bench, quiet_env, tool
from benchmarks.harness import Row, median_time, sh
from benchmarks.proxy import CountingProxy

PREDICATES = {
    "slsa": {"buildDefinition": {"buildType": "https://sccheck.dev/build/go-image/v1",
                                 "externalParameters": {"source": "https://github.com/sccheck/examples"},
                                 "resolvedDependencies": [{"uri": "git+https://github.com/sccheck/examples",
                                                           "digest": {"gitCommit": "0" * 40}}]},
             "runDetails": {"builder": {"id": "https://sccheck.dev/builder/local"}}},
    "sbom": {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": []},
    "vuln": {"scanner": {"uri": "pkg:golang/golang.org/x/vuln", "version": "1.1.4", "result": {"vulnerabilities": []}},
             "metadata": {"scanStartedOn": "NOW", "scanFinishedOn": "NOW"}},
    "test": {"result": "PASSED", "configuration": [], "passedTests": ["go test ./..."]},
}


def signed_image(bench: Bench, reg_host: str, repo: str, platforms: str = "linux/amd64,linux/arm64") -> str:
    """Build, push, sign and attest (4 types) examples/hello; returns host/repo@digest."""
    import datetime

    out = bench.sccheck("--json", "build", str(INPUTS["hello"]), "--platform", platforms,
                        "--push", f"{reg_host}/{repo}:v1", "--output", f"oci:{bench.work / 'copy' / repo}")
    ref = json.loads(out.stdout)["reference"]
    env = bench.sigstore_env()
    bench.sccheck("sign", ref, env=env)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for kind, predicate in PREDICATES.items():
        path = bench.work / "copy" / f"{kind}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(predicate).replace("NOW", now))
        bench.sccheck("attest", ref, "--type", kind, "--predicate", str(path), env=env)
    return str(ref)


def oras_copy(src: str, dst: str) -> object:
    """`oras copy -r`: the image and, recursively, its referrers (plain HTTP on loopback)."""
    return sh([tool("oras"), "copy", "-r", "--from-plain-http", "--to-plain-http", src, dst], env=quiet_env())


def run(bench: Bench) -> list[Row]:
    shutil.rmtree(bench.work / "copy", ignore_errors=True)
    src_reg = bench.registry("copy-src", "referrers")
    # Distribution 2.8 links blobs per repository: each run to a fresh repository uploads every
    # blob again (go-containerregistry's registry would answer HEADs from the first run's blobs).
    dst_reg = bench.registry("copy-dst", "distribution")
    ref = signed_image(bench, src_reg.host, "team/hello")
    digest = ref.split("@", 1)[1]

    def dst(prefix: str) -> str:
        return f"{dst_reg.host}/{bench.unique(prefix)}/hello:v1"

    cases: dict[str, Callable[[], object]] = {
        "sccheck": lambda: bench.sccheck("copy", "--referrers", ref, dst("sc")),
        "sccheck (image only)": lambda: bench.sccheck("copy", ref, dst("sco")),
        "skopeo": lambda: sh([tool("skopeo"), "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                              "--dest-tls-verify=false", f"docker://{ref}", f"docker://{dst('sk')}"], env=quiet_env()),
        "crane": lambda: sh([tool("crane"), "copy", ref, dst("cr")], env=quiet_env()),
        "oras": lambda: oras_copy(ref, dst("or")),
    }
    med = {k: median_time(fn, bench.repeat) for k, fn in cases.items()}
    startup = median_time(lambda: bench.sccheck("copy", "--help"), bench.repeat)
    referrers = json.loads(bench.sccheck("--json", "copy", "--referrers", ref, dst("chk")).stdout)["referrers_copied"]
    rows = [
        Row("copy 2-platform image + 5 referrers, registry to registry", med["sccheck"], "oras copy -r",
            med["oras"], note=f"both copy the referrers ({referrers} for sccheck)"),
        Row("copy 2-platform image + 5 referrers, registry to registry", med["sccheck"], "skopeo copy --all",
            med["skopeo"], note=f"sccheck also copies {referrers} referrers; skopeo does not"),
        Row("copy 2-platform image + 5 referrers, registry to registry", med["sccheck"], "crane copy",
            med["crane"], note="crane copy does not follow referrers"),
        Row("copy 2-platform image only, registry to registry", med["sccheck (image only)"], "skopeo copy --all",
            med["skopeo"]),
        Row("copy 2-platform image only, registry to registry", med["sccheck (image only)"], "crane copy",
            med["crane"]),
    ]
    rows.append(Row("sccheck CLI start-up (`sccheck copy --help`)", startup, "—", None,
                    note="Python interpreter + imports; included in every sccheck time above"))
    rows += _mount_bytes(bench, digest)
    return rows


def _mount_bytes(bench: Bench, digest: str) -> list[Row]:
    """Two repositories of one registry: layers should be mounted, not re-uploaded."""
    reg = bench.registry("mount", "distribution")
    proxy = CountingProxy(reg.host)
    bench.on_close(proxy.stop)
    src_reg = bench.registry("copy-src", "referrers")
    # The image (no referrers) into repo a of the counted registry, direct (not counted).
    bench.sccheck("copy", f"{src_reg.host}/team/hello@{digest}", f"{reg.host}/a/hello:v1")
    src = f"{proxy.host}/a/hello@{digest}"
    moved: dict[str, tuple[int, int]] = {}
    for name, fn in {
        "sccheck": lambda d: bench.sccheck("copy", src, d),
        "skopeo": lambda d: sh([tool("skopeo"), "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                                "--dest-tls-verify=false", f"docker://{src}", f"docker://{d}"], env=quiet_env()),
        "crane": lambda d: sh([tool("crane"), "copy", src, d], env=quiet_env()),
    }.items():
        proxy.reset()
        fn(f"{proxy.host}/{bench.unique('m')}/hello:v1")
        counts = proxy.reset()
        moved[name] = (counts.bytes_up + counts.bytes_down, counts.requests)
    rows = []
    for peer in ("skopeo", "crane"):
        rows.append(Row("bytes moved, copy to another repo of the same registry", moved["sccheck"][0],
                        f"{peer} copy", moved[peer][0], unit="B",
                        note=f"HTTP requests: sccheck {moved['sccheck'][1]}, {peer} {moved[peer][1]}"))
    return rows
