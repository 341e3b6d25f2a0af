"""`sccheck build PATH`: a Go module into a minimal, reproducible OCI image."""

from __future__ import annotations

from typing import Any

import click

from supplychain.build.settings import BuildSettings
from supplychain.cli._build import build_settings_options
from supplychain.cli._common import Options, emit, pass_options, run_guarded
from supplychain.cli._registry import registry_options
from supplychain.registry import RegistryOptions


def _human(out: dict[str, Any]) -> str:
    lines = [f"built {out['digest']}",
             *(f"  {i['platform'] + ':':<10} {i['digest']}" for i in out["images"]),
             f"  base:      {out['base']}" + (f" ({out['base_digest']})" if out.get("base_digest") else ""),
             f"  version:   {out['version']}",
             f"  size:      {out['size']} bytes compressed"]
    for key in ("output", "tarball", "loaded", "reference"):
        if out.get(key):
            lines.append(f"  {key + ':':<10} {out[key]}")
    return "\n".join(lines)


@click.command("build")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--base", default="static", show_default=True,
              help="scratch, static, alpine, or an image reference (host/repo:tag, oci:DIR[:tag]).")
@click.option("--platform", "platforms", multiple=True, metavar="OS/ARCH[,...]",
              help="Target platforms, e.g. linux/amd64,linux/arm64 (default: the host's).")
@click.option("--builder", type=click.Choice(["oci", "docker"]), default="oci", show_default=True,
              help="oci: daemonless; docker: compile in the Docker engine, assemble as oci does.")
@click.option("--builder-image", default=None, help="Go image of the docker builder [golang:<go version>].")
@click.option("--output", default=None, metavar="oci:DIR",
              help="Write an OCI layout (default oci:dist/oci when no other output is named).")
@click.option("--tarball", default=None, metavar="FILE", help="Write a tarball that 'docker load' reads.")
@click.option("--push", default=None, metavar="REF", help="Push to a registry repository host/repo[:tag].")
@click.option("--load", is_flag=True, help="Load the image into the Docker engine.")
@click.option("--tag", default=None, help="Tag (name:tag) for the layout, tarball and engine.")
@click.option("--version", "version", default=None, help="Version to inject [git describe, else dev].")
@click.option("--user", default="65532:65532", show_default=True, help="User of the image config.")
@click.option("--tzdata", is_flag=True, help="Embed the time zone database (-tags timetzdata).")
@click.option("--gzip-level", type=click.IntRange(1, 12), default=6, show_default=True,
              help="Layer compression (libdeflate): 1 fastest, 9 small, 12 smallest and slow.")
@click.option("--source-date-epoch", type=int, default=None,
              help="Timestamp of the image [SOURCE_DATE_EPOCH, else the commit time].")
@click.option("--force", is_flag=True,
              help="Let --push move a registry tag that names another image (see docs/registry.md).")
@build_settings_options
@registry_options
@pass_options
def build_cmd(opts: Options, path: str, base: str, platforms: tuple[str, ...], builder: str,
              builder_image: str | None, output: str | None, tarball: str | None, push: str | None,
              load: bool, tag: str | None, version: str | None, settings: BuildSettings,
              user: str, tzdata: bool, gzip_level: int, source_date_epoch: int | None, force: bool,
              registry: RegistryOptions) -> None:
    """Build the Go module (or the main package) at PATH into a minimal container image."""
    from supplychain.build import BuildRequest, PublishTarget, build_and_publish
    from supplychain.build.model import DEFAULT_OUTPUT

    if output is None and not (tarball or push or load):
        output = DEFAULT_OUTPUT
    request = BuildRequest(path=path, base=base, platforms=platforms, builder=builder, version=version,
                           settings=settings, user=user, tzdata=tzdata,
                           source_date_epoch=source_date_epoch, builder_image=builder_image,
                           gzip_level=gzip_level, registry=registry)
    target = PublishTarget(output=output, tarball=tarball, push=push, load=load, tag=tag, force=force)

    def run() -> dict[str, Any]:
        result, published = build_and_publish(request, target, opts.progress())
        return {
            "digest": result.digest, "media_type": result.media_type, "platforms": list(result.platforms),
            "images": [{"platform": p, "digest": d} for p, d in result.platform_digests.items()],
            "output": published.output, "tarball": published.tarball, "reference": published.reference,
            "loaded": published.loaded, "base": result.base, "base_digest": result.base_digest,
            "version": result.version, "revision": result.revision, "builder": result.builder,
            "entrypoint": result.name, "binaries": list(result.binaries), "notes": list(result.notes),
            "size": result.size, "compression": result.compression,
            "timings": {**result.timings, **published.timings},
        }

    emit(opts, run_guarded(opts, run), _human)


def register(group: click.Group) -> None:
    group.add_command(build_cmd)
