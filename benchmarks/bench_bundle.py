# ruff: noqa: E501
"""Air-gapped releases: `sccheck bundle export` / `verify oci-archive:` / `bundle import` for
examples/hello (two platforms, a signature and 4 attestations) and the same image with 8
attestations, signed keyless on the dev stack, from the referrers registry into distribution 2.8
(the fallback tag). The peer for the copy part is `oras backup --include-referrers` / `oras
restore`: it moves the same bytes but verifies nothing (no policy before export, no verification
of the archive, none after the restore), so sccheck's times include three verifications of every
bundle (export, and the import's in-archive and in-registry checks) that oras does not do."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

from benchmarks.bench_copy import signed_image
from benchmarks.env import Bench, quiet_env, tool
from benchmarks.harness import Row, median_time, replace_section, sh, table

EXTRA = 4   # more attestations on the second image: 4 + 4 = 8


def _policy(bench: Bench, path: Path) -> Path:
    stack = bench.dev_stack()
    path.write_text(textwrap.dedent(f"""\
        apiVersion: sccheck.dev/v1
        kind: Policy
        name: bench-release
        identities:
          - issuer: '{stack.issuer}'
            subject: '{stack.identity}'
        signature: {{}}
        """))
    return path


def _with_more_attestations(bench: Bench, ref: str) -> str:
    env = bench.sigstore_env()
    for i in range(EXTRA):
        path = bench.work / "bundle" / f"step{i}.json"
        path.write_text(json.dumps({"step": i}))
        bench.sccheck("attest", ref, "--type", f"https://sccheck.dev/bench/step/{i}/v1", "--predicate", str(path),
                      env=env)
    return ref


def run(bench: Bench) -> list[Row]:
    work = bench.work / "bundle"
    work.mkdir(parents=True, exist_ok=True)
    src_reg = bench.registry("bundle-src", "referrers")
    dst_reg = bench.registry("bundle-dst", "distribution")
    env = bench.sigstore_env()
    policy = _policy(bench, work / "policy.yaml")
    oras = tool("oras")
    images = [("examples/hello, 2 platforms, signature + 4 attestations", signed_image(bench, src_reg.host, "team/hello")),
              ("examples/hello, 2 platforms, signature + 8 attestations",
               _with_more_attestations(bench, signed_image(bench, src_reg.host, "team/hello8")))]
    rows: list[Row] = []
    for label, ref in images:
        name = ref.split("/", 1)[1].split("@", 1)[0].replace("/", "-")
        tagged = ref.split("@", 1)[0] + ":v1"
        archive, backup = work / f"{name}.tar", work / f"{name}-oras.tar"

        def export(tagged: str = tagged, archive: Path = archive) -> None:
            bench.sccheck("--json", "bundle", "export", tagged, "--policy", str(policy), "-o", str(archive), env=env)

        def backup_cmd(tagged: str = tagged, backup: Path = backup) -> None:
            backup.unlink(missing_ok=True)
            sh([oras, "backup", "--plain-http", "--include-referrers", "--output", str(backup), tagged], env=quiet_env())

        t_export, t_backup = median_time(export, bench.repeat), median_time(backup_cmd, bench.repeat)
        rows.append(Row(f"bundle export, {label}", t_export, "oras backup --include-referrers", t_backup,
                        note="sccheck verifies the policy first and again on the staged copy; oras verifies nothing"))
        rows.append(Row(f"bundle size, {label}", archive.stat().st_size, "oras backup tar", backup.stat().st_size,
                        unit="B", note="sccheck adds the trusted root, the policy and the release manifest"))
        t_verify = median_time(lambda archive=archive: bench.sccheck(
            "--json", "verify", f"oci-archive:{archive}", "--policy", str(policy), env=env), bench.repeat)
        rows.append(Row(f"verify oci-archive: (no network), {label}", t_verify, "—", None,
                        note="every blob hashed, every bundle checked against the pinned trusted root"))

        def import_cmd(archive: Path = archive, name: str = name) -> None:
            bench.sccheck("--json", "bundle", "import", str(archive), f"{dst_reg.host}/{bench.unique(name)}/app:v1",
                          "--policy", str(policy), env=env)

        def restore_cmd(backup: Path = backup, name: str = name) -> None:
            sh([oras, "restore", "--plain-http", "--input", str(backup),
                f"{dst_reg.host}/{bench.unique(name + '-oras')}/app:v1"], env=quiet_env())

        t_import, t_restore = median_time(import_cmd, bench.repeat), median_time(restore_cmd, bench.repeat)
        rows.append(Row(f"bundle import into distribution 2.8 (fallback tag), {label}", t_import, "oras restore",
                        t_restore, note="sccheck verifies in the archive and again in the registry, then moves the tag"))
    return rows


def write_section(rows: list[Row]) -> Path:
    lines = ["## Air-gapped bundles (`python -m benchmarks.bench_bundle`)", "",
             f"Medians of the runs, on the shared 2-core machine; CLI start-up included. {' '.join((__doc__ or '').split('. ', 1)[1].split())}", "",
             *table(rows), "", f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on the machine above."]
    return replace_section("bundle", lines)


if __name__ == "__main__":
    bench = Bench(repeat=int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    try:
        found = run(bench)
    finally:
        bench.close()
    print(f"wrote {write_section(found)}", file=sys.stderr)
