"""The `sccheck` command line: parse, call the library, render. No logic lives here.

Commands load lazily: `sccheck sign` imports the signing layer only, not the SBOM or Docker
code, so every command starts fast.
"""

from __future__ import annotations

import importlib

import click

from supplychain import __version__
from supplychain.cli._common import Options

# command name -> the module under supplychain.cli whose register(group) adds it
COMMANDS: dict[str, str] = {
    "build": "build",
    "sbom": "sbom",
    "check": "check",
    "sign": "sign",
    "attest": "sign",
    "generate-key-pair": "sign",
    "verify": "verify",
    "promote": "verify",
    "policy": "verify",
    "build-and-sign": "pipeline",
    "harden": "harden",
    "copy": "registry",
    "dev-stack": "devstack",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        holder = click.Group()
        importlib.import_module(f"supplychain.cli.{module_name}").register(holder)
        return holder.commands.get(cmd_name)


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks and tool output.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@click.version_option(__version__, prog_name="sccheck")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, verbose: bool, quiet: bool) -> None:
    """From Go source to a signed, verified, promoted container image."""
    ctx.obj = Options(json=as_json, verbose=verbose, quiet=quiet)


def main() -> None:
    cli(prog_name="sccheck")
