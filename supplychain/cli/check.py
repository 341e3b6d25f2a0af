"""`sccheck check`: placeholder until issue 6 lands."""

from __future__ import annotations

import click

from supplychain.cli._common import Options, not_built, pass_options


@click.command("check", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def check_cmd(opts: Options, args: tuple[str, ...]) -> None:
    """check PATH (not built yet)."""
    not_built(opts, "check", "issue 6")


def register(group: click.Group) -> None:
    group.add_command(check_cmd)
