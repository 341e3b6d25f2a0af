"""`sccheck copy SRC DST` (copy by digest, optionally with referrers) and `sccheck registry probe`."""

from __future__ import annotations

from typing import Any

import click

from supplychain.cli._common import Options, emit, pass_options, run_guarded
from supplychain.cli._registry import referrers_mode_option, registry_options
from supplychain.registry import RegistryOptions


@click.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option("--referrers", is_flag=True, help="Bring signatures and attestations (OCI referrers) along.")
@click.option("--force", is_flag=True, help="Move DST's tag even when it names a different image.")
@registry_options
@referrers_mode_option
@pass_options
def copy_cmd(opts: Options, src: str, dst: str, referrers: bool, force: bool,
             registry: RegistryOptions) -> None:
    """Copy the image SRC to DST by digest (registry refs or oci:DIR[:tag]).

    The whole graph moves (index, manifests, config, layers); blobs already at DST are skipped,
    and mounted when both are on one registry. DST's tag is written last and never moved away
    from a different image without --force.
    """
    from supplychain.copy import copy_reference

    def work() -> dict[str, Any]:
        from supplychain.image.archive import archive_as_layout

        with archive_as_layout(src) as source:
            result, reference = copy_reference(source, dst, options=registry, referrers=referrers,
                                               force=force, progress=opts.progress())
        return {"ok": True, "reference": reference, **result.to_dict()}

    out = run_guarded(opts, work)
    emit(opts, out, lambda r: (
        f"{r['reference']}\n  {r['manifests_copied']} manifests, {r['blobs_copied']} blobs copied "
        f"({r['bytes_moved']} bytes), {r['blobs_mounted']} mounted, {r['blobs_skipped']} already there, "
        f"{r['referrers_copied']} referrers"))


@click.group("registry")
def registry_group() -> None:
    """Ask a registry what it supports."""


@registry_group.command("probe")
@click.argument("host")
@click.option("--repository", default="sccheck-probe/capabilities", show_default=True,
              help="Scratch repository the probe writes its small test objects to (needs push).")
@registry_options
@pass_options
def probe_cmd(opts: Options, host: str, repository: str, registry: RegistryOptions) -> None:
    """Probe HOST: referrers API, fallback tag schema, cross-repository mount, chunked upload,
    manifest size limit, OCI 1.1 media types. Writes a few small objects to --repository."""
    from supplychain.registry.capabilities import probe

    out = run_guarded(opts, lambda: probe(host, registry, repository).to_dict())

    def human(r: dict[str, Any]) -> str:
        lines = [f"{r['host']} (probed in {r['repository']})"]
        for name, f in r["capabilities"].items():
            mark = {True: "yes", False: "no", None: "?"}[f["supported"]]
            lines.append(f"  {name:<22} {mark:<4} {f['detail']}")
        lines.append(f"  recommended --referrers-mode {r['recommendedReferrersMode']} (auto picks it)")
        return "\n".join(lines)

    emit(opts, out, human)


def register(group: click.Group) -> None:
    group.add_command(copy_cmd)
    group.add_command(registry_group)
