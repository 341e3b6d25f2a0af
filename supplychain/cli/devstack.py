"""`sccheck dev-stack`: a local private Sigstore on 127.0.0.1 (up, down, env, status, token)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from supplychain import devstack
from supplychain.cli._common import Options, emit, pass_options, run_guarded
from supplychain.errors import UsageError

DIR_HELP = "State directory (default: $SCCHECK_DEV_STACK_DIR or ~/.cache/sccheck/dev-stack)."


def _dir_option(fn: Any) -> Any:
    return click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
                        help=DIR_HELP)(fn)


def _json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Same as the global --json.")(fn)


def _with_json(opts: Options, as_json: bool) -> Options:
    return Options(json=opts.json or as_json, verbose=opts.verbose, quiet=opts.quiet)


def _human_info(info: devstack.StackInfo) -> str:
    head = (f"dev-stack already running in {info.dir}" if info.already_running
            else f"dev-stack up in {info.dir}" + (f" ({info.seconds:.1f}s)" if info.seconds else ""))
    lines = [head]
    lines += [f"  {name:<7}{url}" for name, url in info.urls.items()]
    if info.registry:
        lines.append(f"  registry {info.registry}")
    lines += [f"  trust config  {info.trust_config}", f"  trusted root  {info.trusted_root}",
              f"  identity      {info.identity} (issuer {info.issuer})",
              "  next: eval \"$(sccheck dev-stack env)\""]
    return "\n".join(lines)


@click.group("dev-stack")
def dev_stack_group() -> None:
    """A local private Sigstore (Fulcio, CT log, Rekor v2, TSA, OIDC issuer) on 127.0.0.1."""


@dev_stack_group.command("up")
@_dir_option
@_json_option
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for each server to answer.")
@click.option("--registry", "with_registry", is_flag=True,
              help="Also run a local OCI registry (docker-registry) on 127.0.0.1.")
@pass_options
def up_cmd(opts: Options, directory: Path | None, as_json: bool, timeout: float, with_registry: bool) -> None:
    """Start the stack (keys are made once and kept); says so when it already runs."""
    opts = _with_json(opts, as_json)
    info = run_guarded(opts, lambda: devstack.up(directory, progress=opts.progress(), timeout=timeout,
                                                 with_registry=with_registry))
    emit(opts, {"ok": True, **info.to_dict()}, lambda _: _human_info(info))


@dev_stack_group.command("down")
@_dir_option
@_json_option
@pass_options
def down_cmd(opts: Options, directory: Path | None, as_json: bool) -> None:
    """Stop the stack's servers (keys, data and logs stay)."""
    opts = _with_json(opts, as_json)
    stopped = run_guarded(opts, lambda: devstack.down(directory))
    emit(opts, {"ok": True, "stopped": stopped},
         lambda r: "stopped: " + ", ".join(r["stopped"]) if r["stopped"] else "nothing was running")


@dev_stack_group.command("status")
@_dir_option
@_json_option
@pass_options
def status_cmd(opts: Options, directory: Path | None, as_json: bool) -> None:
    """Show where the stack is and which servers run."""
    opts = _with_json(opts, as_json)
    info = run_guarded(opts, lambda: devstack.status(directory))

    def human(_: Any) -> str:
        lines = [f"dev-stack in {info.dir}"]
        for name, url in info.urls.items():
            pid = info.running.get(name)
            lines.append(f"  {name:<7}{url}  " + (f"running (pid {pid})" if pid else "stopped"))
        return "\n".join(lines)

    emit(opts, {"ok": True, **info.to_dict()}, human)


@dev_stack_group.command("env")
@_dir_option
@pass_options
def env_cmd(opts: Options, directory: Path | None) -> None:
    """Print shell `export` lines: eval "$(sccheck dev-stack env)" (--json: the same as an object)."""
    info = run_guarded(opts, lambda: devstack.status(directory))
    if opts.json:
        emit(opts, {"ok": True, "env": devstack.env_values(info)})
    else:
        click.echo("\n".join(devstack.env_lines(info)))


@dev_stack_group.command("token")
@_dir_option
@click.option("--github", is_flag=True, help="A GitHub-Actions-shaped token (github-workflow issuer).")
@click.option("--claim", "claims", multiple=True, metavar="KEY=VALUE",
              help="Shape the token: email, sub, aud, ttl, expired=1, or GitHub claims "
                   "(repository, ref, sha, workflow_ref, event_name, ...). Repeatable.")
@click.option("--reveal", is_flag=True, help="Print the token even to a terminal.")
@pass_options
def token_cmd(opts: Options, directory: Path | None, github: bool, claims: tuple[str, ...],
              reveal: bool) -> None:
    """Mint a short-lived identity token (printed only into a pipe, or with --reveal)."""

    def mint() -> str:
        parsed: dict[str, str] = {}
        for item in claims:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise UsageError("a --claim is not KEY=VALUE", expected="KEY=VALUE, e.g. ref=refs/tags/v1",
                                 found=item, fix="write each claim as KEY=VALUE")
            parsed[key] = value
        if sys.stdout.isatty() and not reveal:
            raise UsageError("refusing to print a token to a terminal",
                             expected="stdout redirected to a pipe or file", found="a terminal",
                             fix="TOKEN=$(sccheck dev-stack token), or pass --reveal")
        return devstack.token(directory, github=github, claims=parsed)

    token = run_guarded(opts, mint)
    if opts.json:
        emit(opts, {"ok": True, "token": token})
    else:
        click.echo(token)


def register(group: click.Group) -> None:
    group.add_command(dev_stack_group)
