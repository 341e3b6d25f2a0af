"""`sccheck build`: placeholder until issue 3 lands."""

from __future__ import annotations

import click

from supplychain.cli._common import Options, not_built, pass_options


@click.command("build", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def build_cmd(opts: Options, args: tuple[str, ...]) -> None:
    """build PATH (not built yet)."""
    not_built(opts, "build", "issue 3")


def register(group: click.Group) -> None:
    group.add_command(build_cmd)
