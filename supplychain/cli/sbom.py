"""`sccheck sbom`: placeholder until issue 5 lands."""

from __future__ import annotations

import click

from supplychain.cli._common import Options, not_built, pass_options


@click.command("sbom", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def sbom_cmd(opts: Options, args: tuple[str, ...]) -> None:
    """sbom IMAGE (not built yet)."""
    not_built(opts, "sbom", "issue 5")


def register(group: click.Group) -> None:
    group.add_command(sbom_cmd)
