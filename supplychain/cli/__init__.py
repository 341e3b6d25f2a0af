"""The `sccheck` command line: parse, call the library, render. No logic lives here.

Commands load lazily: `sccheck sign` imports the signing layer only, not the SBOM or Docker
code, so every command starts fast.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from typing import Any

import click

from supplychain import __version__
from supplychain.cli._common import Options, fail, internal_error, interrupted, usage_failure
from supplychain.errors import Error
from supplychain.progress import StderrProgress, set_notice_sink

# command name -> the module under supplychain.cli whose register(group) adds it
COMMANDS: dict[str, str] = {
    "build": "build",
    "sbom": "sbom",
    "check": "check",
    "sign": "sign",
    "attest": "sign",
    "generate-key-pair": "sign",
    "rescan": "sign",
    "verify": "verify",
    "promote": "verify",
    "policy": "verify",
    "build-and-sign": "pipeline",
    "harden": "harden",
    "copy": "registry",
    "registry": "registry",
    "dev-stack": "devstack",
    "bundle": "bundle",
    "trust": "bundle",
}


def _options_end(args: list[str]) -> int:
    return args.index("--") if "--" in args else len(args)


def hoist_json(args: list[str]) -> list[str]:
    """`sccheck verify --json X` means `sccheck --json verify X`: the flag is global."""
    end = _options_end(args)
    if "--json" not in args[:end]:
        return args
    rest = [a for a in args[:end] if a != "--json"]
    return ["--json", *rest, *args[end:]]


def _global_version(args: list[str]) -> bool:
    """`sccheck --version`, not a command's own --version (build's version to stamp): the global
    options are all flags, so the command name is the first argument without a dash."""
    before = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
    return "--version" in args[:before]


class LazyGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_json(list(args)) if ctx.parent is None else args)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Run with the CLI contract on every exit path: with --json, stdout holds exactly one JSON
        document also when the argument parser refuses the command line or a bug escapes."""
        argv = [str(a) for a in (sys.argv[1:] if args is None else args)]
        head = argv[:_options_end(argv)]
        as_json, verbose = "--json" in head, "--verbose" in head or "-v" in head
        if as_json and ({"--help", "-h"} & set(head) or _global_version(head)):
            return self._text_as_json(argv, prog_name, complete_var, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            usage = exc.ctx.get_usage() if exc.ctx is not None else ""
            usage_failure(as_json, exc.format_message(), usage)
        except click.ClickException as exc:
            usage_failure(as_json, exc.format_message())
        except click.exceptions.Abort:
            usage_failure(as_json, "aborted")
        except Error as err:
            fail(Options(json=as_json, verbose=verbose), err)
        except KeyboardInterrupt:
            interrupted(as_json)
        except Exception as exc:  # a bug of ours outside a command's guard
            internal_error(as_json, verbose, exc)
        finally:
            set_notice_sink(None)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def _text_as_json(self, argv: list[str], prog_name: str | None, complete_var: str | None,
                      **extra: Any) -> Any:
        """`--help` and `--version` with --json: their text inside the one JSON document."""
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            try:
                super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
            except click.ClickException as exc:
                usage_failure(True, exc.format_message())
        key = "version" if _global_version(argv) else "help"
        click.echo(json.dumps({"ok": True, key: buffer.getvalue().strip()}, indent=2, sort_keys=True))
        sys.exit(0)

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
    from supplychain.proxyenv import keep_loopback_off_proxies
    from supplychain.tools import shield_netrc

    keep_loopback_off_proxies()
    shield_netrc()
    ctx.obj = Options(json=as_json, verbose=verbose, quiet=quiet)
    set_notice_sink(None if quiet else StderrProgress())


def main() -> None:
    cli(prog_name="sccheck")
