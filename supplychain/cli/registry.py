"""`sccheck copy`: placeholder until issue 4 lands."""

from __future__ import annotations

import click

from supplychain.cli._common import Options, not_built, pass_options


@click.command("copy", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def copy_cmd(opts: Options, args: tuple[str, ...]) -> None:
    """copy SRC DST (not built yet)."""
    not_built(opts, "copy", "issue 4")


def register(group: click.Group) -> None:
    group.add_command(copy_cmd)
