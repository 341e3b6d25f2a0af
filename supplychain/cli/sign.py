"""`sccheck sign`, `attest`, `generate-key-pair`: placeholders until issue 7 lands."""

from __future__ import annotations

import click

from supplychain.cli._common import Options, not_built, pass_options


def _placeholder(name: str, usage: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True}, help=f"{usage} (not built yet).")
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @pass_options
    def command(opts: Options, args: tuple[str, ...]) -> None:
        not_built(opts, name, "issue 7")

    return command


def register(group: click.Group) -> None:
    group.add_command(_placeholder("sign", "sign IMAGE@DIGEST"))
    group.add_command(_placeholder("attest", "attest IMAGE@DIGEST --type T --predicate F"))
    group.add_command(_placeholder("generate-key-pair", "generate-key-pair"))
