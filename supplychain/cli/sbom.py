"""`sccheck sbom IMAGE|BINARY|DIR`: CycloneDX SBOMs from Go build info and OS package databases."""

from __future__ import annotations

from typing import Any

import click

from supplychain.cli._common import Options, emit, pass_options, run_guarded
from supplychain.cli._registry import registry_options
from supplychain.errors import UsageError
from supplychain.registry import RegistryOptions


@click.command("sbom")
@click.argument("target")
@click.option("--output", "-o", metavar="F",
              help="Write the SBOM to F (one file per platform for multi-platform images: "
                   "F with .<os>-<arch> before the suffix). Default: stdout.")
@click.option("--spec-version", type=click.Choice(["1.6", "1.5"]), default="1.6", show_default=True,
              help="CycloneDX specification version.")
@click.option("--platform", metavar="OS/ARCH", help="Only this platform of a multi-platform image.")
@click.option("--no-go", is_flag=True,
              help="Source trees: read go.mod/go.sum only, do not run 'go list' / 'go mod graph'.")
@click.option("--validate", is_flag=True,
              help="Check the SBOM against the CycloneDX JSON schema before writing it (~2 s more).")
@registry_options
@pass_options
def sbom_cmd(opts: Options, target: str, output: str | None, spec_version: str, platform: str | None,
             no_go: bool, validate: bool, registry: RegistryOptions) -> None:
    """CycloneDX SBOM of TARGET: an image (host/repo:tag, oci:DIR[:tag]), a Go binary or a module dir."""
    from supplychain.sbom.generate import generate_sbom, write_sboms

    def work() -> dict[str, Any]:
        from supplychain.image.archive import archive_as_layout

        with archive_as_layout(target) as image:
            docs = generate_sbom(image, spec_version=spec_version, platform=platform, use_go=not no_go,
                                 validate=validate, progress=opts.progress(), registry=registry)
        if output is None:
            if len(docs) > 1:
                raise UsageError(
                    f"{target} has {len(docs)} platforms, and stdout can hold one SBOM",
                    expected="--output F (one file per platform) or --platform OS/ARCH",
                    found=", ".join(d.subject.platform for d in docs),
                    fix="add --output sbom.cdx.json or --platform linux/amd64",
                )
            if opts.json:
                raise UsageError("--json prints a summary on stdout, so the SBOM needs --output F",
                                 fix="add --output sbom.cdx.json")
            click.echo(docs[0].text, nl=False)
            return {}
        paths = write_sboms(docs, output)
        return {"ok": True, "outputs": paths, "spec_version": spec_version,
                "sboms": [dict(d.summary(), output=p) for d, p in zip(docs, paths, strict=True)]}

    result = run_guarded(opts, work)
    if result:
        emit(opts, result, _human)


def _human(result: dict[str, Any]) -> str:
    lines = []
    for sbom in result["sboms"]:
        where = f" {sbom['platform']}" if sbom["platform"] else ""
        lines.append(f"wrote {sbom['output']}: CycloneDX {sbom['spec_version']} of {sbom['name']}{where}: "
                     f"{sbom['go_programs']} Go program(s) ({', '.join(sbom['main_versions']) or '-'}), "
                     f"{sbom['go_modules']} module(s), {sbom['os_packages']} OS package(s)")
    return "\n".join(lines)


def register(group: click.Group) -> None:
    group.add_command(sbom_cmd)
