"""`sccheck build-and-sign`: placeholder until issue 9 lands."""

from __future__ import annotations

import click

from supplychain.cli._common import Options, not_built, pass_options


@click.command("build-and-sign", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def build_and_sign_cmd(opts: Options, args: tuple[str, ...]) -> None:
    """build-and-sign PATH --repo REF (not built yet)."""
    not_built(opts, "build-and-sign", "issue 9")


def register(group: click.Group) -> None:
    group.add_command(build_and_sign_cmd)
