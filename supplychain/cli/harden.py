"""`sccheck harden`: placeholder until issue 10 lands."""

from __future__ import annotations

import click

from supplychain.cli._common import Options, not_built, pass_options


@click.command("harden", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def harden_cmd(opts: Options, args: tuple[str, ...]) -> None:
    """harden check|k8s IMAGE (not built yet)."""
    not_built(opts, "harden", "issue 10")


def register(group: click.Group) -> None:
    group.add_command(harden_cmd)
