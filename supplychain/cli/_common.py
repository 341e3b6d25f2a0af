"""Shared plumbing of the click layer: global options, error rendering, output."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from supplychain.errors import EXIT_TOOL_FAILED, EXIT_USAGE, Error, NotBuiltYet
from supplychain.progress import Progress, SilentProgress, StderrProgress


@dataclass
class Options:
    json: bool = False
    verbose: bool = False
    quiet: bool = False

    def progress(self) -> Progress:
        return SilentProgress() if self.quiet else StderrProgress()


pass_options = click.make_pass_decorator(Options, ensure=True)


def emit(opts: Options, result: Any, human: Callable[[Any], str] | None = None, *, ok: bool = True) -> None:
    """Write a command's result: JSON on stdout with --json, else the human rendering. Every JSON
    result carries `ok` (`ok=` says it for results that do not say it themselves)."""
    if opts.json:
        if isinstance(result, dict) and "ok" not in result:
            result = {"ok": ok, **result}
        click.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
    elif human is not None:
        text = human(result)
        if text:
            click.echo(text)


def fail(opts: Options, err: Error) -> None:
    """Render an sccheck error once and exit with its code."""
    if opts.verbose:
        traceback.print_exception(err, file=sys.stderr)
    if opts.json:
        click.echo(json.dumps({"ok": False, **err.to_dict()}, indent=2, sort_keys=True))
    click.echo(err.diagnostics(), err=True)
    sys.exit(err.exit_code)


def not_built(opts: Options, command: str, issue: str) -> None:
    fail(
        opts,
        NotBuiltYet(
            f"'sccheck {command}' is part of the CLI contract but is not built yet",
            expected=f"a working '{command}' command",
            found="a placeholder",
            fix=f"follow {issue} in the issue tracker; until then use the peer tool",
        ),
    )


def run_guarded(opts: Options, fn: Callable[[], Any]) -> Any:
    """Call into the library; turn sccheck errors into diagnostics and exit codes."""
    try:
        return fn()
    except Error as err:
        fail(opts, err)
    except click.exceptions.Exit:
        raise
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        interrupted(opts.json)
    except Exception as exc:  # a bug of ours: say so plainly, with the traceback on --verbose
        internal_error(opts.json, opts.verbose, exc)
    return None


def interrupted(as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"ok": False, "error": "Interrupted", "kind": "interrupted",
                               "message": "interrupted", "exit_code": 130}, indent=2, sort_keys=True))
    click.echo("interrupted", err=True)
    sys.exit(130)


def internal_error(as_json: bool, verbose: bool, exc: BaseException) -> NoReturn:
    """A bug of ours: one JSON document with --json, a plain line on stderr, exit 3."""
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    text = f"{type(exc).__name__}: {str(exc)[:500]}"
    if as_json:
        click.echo(json.dumps({"ok": False, "error": "InternalError", "kind": "internal error",
                               "message": text, "exit_code": EXIT_TOOL_FAILED}, indent=2, sort_keys=True))
    click.echo(f"internal error: {text}\n  (run with --verbose for the traceback, and report it)", err=True)
    sys.exit(EXIT_TOOL_FAILED)


def usage_failure(as_json: bool, message: str, usage: str = "") -> NoReturn:
    """A usage error found by the argument parser: the same shape as every other error."""
    if as_json:
        click.echo(json.dumps({"ok": False, "error": "UsageError", "kind": "usage error", "message": message,
                               "expected": usage or None, "found": None, "fix": "see --help",
                               "facts": {}, "exit_code": EXIT_USAGE}, indent=2, sort_keys=True))
    if usage:
        click.echo(usage, err=True)
    click.echo(f"usage error: {message}", err=True)
    sys.exit(EXIT_USAGE)


__all__ = ["EXIT_USAGE", "Options", "emit", "fail", "internal_error", "interrupted", "not_built",
           "pass_options", "run_guarded", "usage_failure"]


def stdin_line(purpose: str) -> str:
    """One line of stdin for one purpose per run (a registry password or an identity token):
    a second reader is refused rather than handed the wrong secret."""
    meta = click.get_current_context().meta
    taken = meta.get("sccheck.stdin")
    if taken:
        raise click.UsageError(f"stdin already gives {taken}; pass {purpose} from a file instead")
    meta["sccheck.stdin"] = purpose
    return sys.stdin.readline().rstrip("\r\n")


def identity_token_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--identity-token @FILE | - : the command receives the token itself (or None)."""
    from supplychain.signing.tokens import read_token_argument

    def read(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        return read_token_argument(value, lambda: stdin_line("the identity token"))[0]

    return click.option("--identity-token", metavar="@FILE|-", callback=read,
                        help=help_text + " Read from FILE (@FILE) or stdin (-); a token itself on "
                             "the command line is refused.")
