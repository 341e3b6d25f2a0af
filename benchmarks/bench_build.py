# ruff: noqa: E501
"""Build: `sccheck build` (daemonless, OCI layout) vs `ko build` vs `docker build` of the
equivalent multi-stage Dockerfile, on examples/hello and benchmarks/inputs/bigsvc.

Fairness: every tool builds the same module copy for linux/amd64 with the same flags
(`CGO_ENABLED=0 -trimpath -ldflags "-s -w -buildid="`), and each run first gets a new
`zz_bench_stamp.go`, so every run recompiles the main package and relinks while all module
dependencies come from a warm Go cache (the host's for go/sccheck/ko, a cached Dockerfile layer
for docker). Bases: sccheck's `static`; for ko the same files as an image in a local registry
(`KO_DEFAULTBASEIMAGE`); for docker the same files copied onto `scratch`.
"""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import tarfile
import time
from pathlib import Path

from benchmarks.env import Bench, quiet_env, tool
from benchmarks.harness import ROOT, Row, sh
from benchmarks.layout import image_size
from supplychain.build.bases import static_entries
from supplychain.build.layers import tar_bytes

INPUTS = {"hello": ROOT / "examples" / "hello", "bigsvc": ROOT / "benchmarks" / "inputs" / "bigsvc"}
LDFLAGS = "-s -w -buildid="
PLATFORM = "linux/amd64"


def run(bench: Bench) -> list[Row]:
    base = _ko_base(bench)
    builder = _builder_image()
    rows: list[Row] = []
    for name, src in INPUTS.items():
        rows += _one(bench, name, src, base, builder)
    return rows


def _one(bench: Bench, name: str, src: Path, ko_base: str, builder: str) -> list[Row]:
    mod = bench.work / "build" / name
    shutil.rmtree(mod, ignore_errors=True)
    shutil.rmtree(bench.work / "build" / f"{name}-out", ignore_errors=True)
    shutil.copytree(src, mod)
    sh(["go", "mod", "vendor"], cwd=mod)           # docker's context needs the modules; all tools use them
    out = bench.work / "build" / f"{name}-out"
    # a stamp no earlier run used: a repeated one would meet the Go and Docker caches of a run
    # before (docker build then finished in 0.2 s, having compiled nothing)
    stamp = (f"{time.time_ns()}-{n}" for n in range(1_000_000))

    outputs = {"sccheck -9": "sc9", "sccheck -6": "sc6", "sccheck -6 unchanged": "sc6u", "ko": "ko",
               "ko unchanged": "kou"}

    def restamp(case: str) -> None:
        if not case.endswith(" unchanged"):   # "unchanged": the same source as the run before it
            (mod / "zz_bench_stamp.go").write_text(f'package main\n\nvar benchStamp = "{next(stamp)}"\n')
        if case in outputs:                  # each tool writes a fresh layout every run
            shutil.rmtree(out / outputs[case], ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)

    go_env = {"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local"}
    ko_env = {**go_env, "KO_DOCKER_REPO": f"{bench.registry('build').host}/ko/{name}",
              "KO_DEFAULTBASEIMAGE": ko_base}
    tag = f"sccheck-bench/{name}:latest"
    ctx = _docker_context(bench, name, mod, builder)

    def ko_build(dest: str) -> None:
        sh([tool("ko"), "build", "--bare", "--platform", PLATFORM, "--push=false", "--sbom=none",
            f"--ldflags={LDFLAGS}", "--oci-layout-path", str(out / dest), "."],
           cwd=mod, env={**quiet_env(), **ko_env})

    cases = {
        "go build": lambda: sh(["go", "build", "-trimpath", "-ldflags", LDFLAGS, "-o", str(out / "bin"), "."],
                               cwd=mod, env=go_env),
        "sccheck -9": lambda: bench.sccheck("--json", "build", str(mod), "--platform", PLATFORM,
                                            "--gzip-level", "9", "--output", f"oci:{out}/sc9"),
        "sccheck -6": lambda: bench.sccheck("--json", "build", str(mod), "--platform", PLATFORM,
                                            "--gzip-level", "6", "--output", f"oci:{out}/sc6"),
        # the layer cache's case: the same source built again (sccheck reuses the compressed layer)
        "sccheck -6 unchanged": lambda: bench.sccheck("--json", "build", str(mod), "--platform", PLATFORM,
                                                      "--gzip-level", "6", "--output", f"oci:{out}/sc6u"),
        "ko": lambda: ko_build("ko"),
        "ko unchanged": lambda: ko_build("kou"),
        "docker": lambda: sh(["docker", "build", "-q", "-t", tag, str(ctx)], env=quiet_env()),
    }
    # Warm every cache once (Go build cache, the docker deps layer, ko's base), untimed.
    for case, fn in cases.items():
        restamp(case)
        _sync_ctx(mod, ctx)
        fn()
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(bench.repeat):          # round-robin: machine noise hits every tool alike
        for case, fn in cases.items():
            restamp(case)
            _sync_ctx(mod, ctx)
            start = time.perf_counter()
            fn()
            samples[case].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in samples.items()}
    # Sizes: the last run's images (deterministic for sccheck; ko's differ only in timestamps).
    sizes = _sizes(bench, mod, out, tag, ctx)
    go = med["go build"]
    kb = sizes["binary"]
    note_beyond = f"go build itself: {go:.2f} s"
    rows = [
        Row(f"build {name}: total (warm Go cache)", med["sccheck -6"], "ko build", med["ko"],
            note="sccheck default --gzip-level 6"),
        Row(f"build {name}: total, --gzip-level 9", med["sccheck -9"], "ko build", med["ko"]),
        Row(f"build {name}: time beyond go build (gzip 6)", med["sccheck -6"] - go, "ko build",
            med["ko"] - go, note=note_beyond),
        Row(f"build {name}: time beyond go build (gzip 9)", med["sccheck -9"] - go, "ko build",
            med["ko"] - go, note=note_beyond),
        Row(f"build {name}: rebuild, source unchanged", med["sccheck -6 unchanged"], "ko build",
            med["ko unchanged"], note="the layer cache: compressed bytes of the same layer reused"),
        Row(f"build {name}: total vs docker build", med["sccheck -6"], "docker build", med["docker"],
            note="docker: multi-stage, deps layer cached, only main pkg rebuilt"),
        Row(f"image size {name} (static base, gzip 6)", sizes["sccheck6"], "ko build", sizes["ko"], unit="B",
            note=f"binary {kb / 1048576:.2f} MiB"),
        Row(f"image size {name} (static base, gzip 9)", sizes["sccheck9"], "ko build", sizes["ko"], unit="B"),
        Row(f"image size {name} (scratch, gzip 6) vs gzip -6 of the binary", sizes["scratch6"], "gzip -6 binary",
            sizes["gz6"], unit="B", note=f"{(sizes['scratch6'] - sizes['gz6']) / 1024:+.1f} KiB"),
        Row(f"image size {name} (scratch, gzip 9) vs gzip -9 of the binary", sizes["scratch9"], "gzip -9 binary",
            sizes["gz9"], unit="B", note=f"{(sizes['scratch9'] - sizes['gz9']) / 1024:+.1f} KiB"),
        Row(f"image size {name} (static) vs docker build", sizes["sccheck6"], "docker build (gzip -6 of saved layers)",
            sizes["docker"], unit="B"),
    ]
    for r in rows:
        r.extra = {k: round(v, 4) for k, v in med.items()}
    return rows


def _sizes(bench: Bench, mod: Path, out: Path, tag: str, ctx: Path) -> dict[str, float]:
    binary = (out / "bin").read_bytes()
    sizes: dict[str, float] = {"binary": len(binary), "ko": image_size(out / "ko"),
                               "gz9": len(gzip.compress(binary, 9, mtime=0)),
                               "gz6": len(gzip.compress(binary, 6, mtime=0))}
    for base in ("static", "scratch"):
        for level in ("9", "6"):
            dest = out / f"size-{base}-{level}"
            res = bench.sccheck("--json", "build", str(mod), "--platform", PLATFORM, "--base", base,
                                "--gzip-level", level, "--output", f"oci:{dest}")
            key = f"sccheck{level}" if base == "static" else f"scratch{level}"
            sizes[key] = image_size(dest)
            assert json.loads(res.stdout)["size"] > 0
    sizes["docker"] = _docker_size(tag, out)
    return sizes


def _docker_size(tag: str, out: Path) -> int:
    """Docker keeps layers uncompressed; a push would gzip them (level 6 in docker's client)."""
    saved = out / "docker.tar"
    sh(["docker", "save", "-o", str(saved), tag])
    total = 0
    with tarfile.open(saved) as tar:
        for member in tar.getmembers():
            if member.isfile():
                f = tar.extractfile(member)
                assert f is not None
                data = f.read()
                if member.name.endswith((".tar", "layer.tar")) or ("/blobs/" in member.name and data[:2] != b"{\""):
                    total += len(gzip.compress(data, 6, mtime=0))
                else:
                    total += len(data)
    return total


def _sync_ctx(mod: Path, ctx: Path) -> None:
    for go_file in mod.glob("*.go"):
        shutil.copy2(go_file, ctx / go_file.name)


def _docker_context(bench: Bench, name: str, mod: Path, builder: str) -> Path:
    """go.mod + vendor first and a RUN that compiles every dependency (cached layer), then the
    package's own files: the usual Dockerfile for Go, so a source edit rebuilds only main."""
    ctx = bench.work / "build" / f"{name}-docker"
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    for item in ("go.mod", "go.sum"):
        if (mod / item).exists():
            shutil.copy2(mod / item, ctx / item)
    shutil.copytree(mod / "vendor", ctx / "vendor")
    listed = sh(["go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "."], cwd=mod,
                env={"CGO_ENABLED": "0"}).stdout.split()
    main_module = sh(["go", "list", "-m"], cwd=mod).stdout.strip()
    deps = [p for p in listed if not p.startswith(main_module)]
    raw, _ = tar_bytes(static_entries(), 0)
    (ctx / "static.tar").write_bytes(raw)
    has_sum = (mod / "go.sum").exists()
    warm = json.dumps(["go", "build", "-trimpath", *deps]) if deps else json.dumps(["go", "version"])
    (ctx / "Dockerfile").write_text("\n".join([
        f"FROM {builder} AS build",
        "WORKDIR /src",
        "ENV CGO_ENABLED=0 GOFLAGS=-mod=vendor GOTOOLCHAIN=local",
        "COPY go.mod go.sum ./" if has_sum else "COPY go.mod ./",
        "COPY vendor/ vendor/",
        f"RUN {warm}",
        "COPY *.go ./",
        f'RUN ["go", "build", "-trimpath", "-ldflags={LDFLAGS}", "-o", "/out/app", "."]',
        "FROM scratch",
        "ADD static.tar /",
        f"COPY --from=build /out/app /usr/local/bin/{name}",
        "USER 65532:65532",
        f'ENTRYPOINT ["/usr/local/bin/{name}"]',
        "",
    ]))
    return ctx


def _builder_image() -> str:
    """A Go builder image made from this machine's toolchain (nothing can be pulled here)."""
    from tests.build.builder_image import ensure_builder_image
    return ensure_builder_image(None)


def _ko_base(bench: Bench) -> str:
    """sccheck's static base files as a one-layer linux/amd64 image in a local registry, for ko."""
    reg = bench.registry("build")
    ref = f"{reg.host}/bench/static-base:v1"
    work = bench.work / "build"
    work.mkdir(parents=True, exist_ok=True)
    raw, _ = tar_bytes(static_entries(), 0)
    (work / "static-base.tar").write_bytes(raw)
    crane = tool("crane")
    sh([crane, "append", "--oci-empty-base", "-f", str(work / "static-base.tar"), "-t", ref])
    sh([crane, "mutate", ref, "--set-platform", PLATFORM, "--user", "65532:65532", "-t", ref])
    return ref
