"""The `sccheck` command line: parse, call the library, render. No logic lives here."""

from __future__ import annotations

import click

from supplychain import __version__
from supplychain.cli import build, check, devstack, harden, pipeline, registry, sbom, sign, verify
from supplychain.cli._common import Options


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks and tool output.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@click.version_option(__version__, prog_name="sccheck")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, verbose: bool, quiet: bool) -> None:
    """From Go source to a signed, verified, promoted container image."""
    ctx.obj = Options(json=as_json, verbose=verbose, quiet=quiet)


for module in (build, sbom, check, sign, verify, pipeline, harden, registry, devstack):
    module.register(cli)


def main() -> None:
    cli(prog_name="sccheck")
