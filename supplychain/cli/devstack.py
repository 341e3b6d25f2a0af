"""`sccheck dev-stack`: placeholder until issue 7 lands."""

from __future__ import annotations

import click

from supplychain.cli._common import Options, not_built, pass_options


@click.command("dev-stack", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def dev_stack_cmd(opts: Options, args: tuple[str, ...]) -> None:
    """dev-stack up|down|env (not built yet)."""
    not_built(opts, "dev-stack", "issue 7")


def register(group: click.Group) -> None:
    group.add_command(dev_stack_cmd)
