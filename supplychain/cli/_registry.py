"""Registry flags shared by every command that talks to registries.

    @click.command()
    @registry_options
    def cmd(registry: RegistryOptions, ...): ...

Credentials name the registry they are for: `--auth HOST=USER` (repeatable), each with its
password from `--password-stdin` (one --auth only) or `--password-file HOST=FILE`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import click

from supplychain.cli._common import stdin_line
from supplychain.registry import RegistryOptions
from supplychain.registry.options import REFERRERS_MODES, HostCredential, registry_key

MAX_PASSWORD_FILE = 64 * 1024


def _host_pair(value: str, flag: str, what: str) -> tuple[str, str]:
    host, sep, rest = value.partition("=")
    host = host.strip()
    # A user name never holds a colon (RFC 7617); `user:password` is docker's habit, and the
    # value of --auth is then a password on the command line: refuse it, and never repeat it.
    user_flag = what == "USER"
    shown = "" if user_flag else f" {value!r}"
    if not sep or not host or not rest or "/" in host or "@" in host:
        raise click.UsageError(f"{flag}{shown}: expected HOST={what}, e.g. {flag} "
                               f"ghcr.io={'robot' if user_flag else '/run/secrets/ghcr'}"
                               + (" (the value given is not repeated)" if user_flag else ""))
    if user_flag and ":" in rest:
        raise click.UsageError(f"{flag} {host}=...: a user name has no ':' (a password never goes on "
                               "the command line); give the password with --password-stdin or "
                               f"--password-file {host}=FILE")
    return host, rest


def _read_password_file(path: str, host: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_PASSWORD_FILE + 1)
    except OSError as exc:
        raise click.UsageError(f"--password-file for {host}: cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_PASSWORD_FILE:
        raise click.UsageError(f"--password-file for {host}: {path} is larger than {MAX_PASSWORD_FILE} bytes")
    return raw.decode("utf-8", errors="strict").rstrip("\r\n")


def host_credentials(auth: tuple[str, ...], password_files: tuple[str, ...],
                     password_stdin: bool) -> tuple[HostCredential, ...]:
    """Pair each --auth HOST=USER with exactly one password source."""
    users: dict[str, tuple[str, str]] = {}
    for value in auth:
        host, user = _host_pair(value, "--auth", "USER")
        if registry_key(host) in users:
            raise click.UsageError(f"--auth names {host} twice")
        users[registry_key(host)] = (host, user)
    files: dict[str, str] = {}
    for value in password_files:
        host, path = _host_pair(value, "--password-file", "FILE")
        if registry_key(host) not in users:
            raise click.UsageError(f"--password-file {host}=... has no --auth {host}=USER")
        files[registry_key(host)] = path
    without = [key for key in users if key not in files]
    if password_stdin and len(without) != 1:
        raise click.UsageError("--password-stdin gives the password of exactly one --auth HOST=USER "
                               f"without a --password-file (found {len(without)})")
    if not password_stdin and without:
        host = users[without[0]][0]
        raise click.UsageError(f"--auth {host}=... has no password: add --password-stdin "
                               f"or --password-file {host}=FILE")
    creds = []
    for key, (host, user) in users.items():
        if key in files:
            password = _read_password_file(files[key], host)
        else:
            password = stdin_line(f"the password for {host}")
        creds.append(HostCredential(host, user, password))
    return tuple(creds)


def registry_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --insecure, --ca-file, --auth, --password-stdin, --password-file, --docker-config,
    --max-workers, --retries; the command receives them as one `registry: RegistryOptions`
    keyword."""

    @click.option("--insecure", is_flag=True,
                  help="Allow plain HTTP to non-loopback registries (loopback hosts always may).")
    @click.option("--ca-file", type=click.Path(exists=True, dir_okay=False),
                  help="PEM file of CA certificates to trust for registry TLS.")
    @click.option("--auth", "auth", multiple=True, metavar="HOST=USER",
                  help="Registry user for HOST only (repeatable; password from --password-stdin or "
                       "--password-file). Else env SCCHECK_REGISTRY_HOST/USERNAME/PASSWORD, else "
                       "the Docker config.")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the password of the one --auth HOST=USER from stdin.")
    @click.option("--password-file", "password_files", multiple=True, metavar="HOST=FILE",
                  help="Read the password of --auth HOST=USER from FILE (repeatable).")
    @click.option("--username", hidden=True, expose_value=True,
                  help="Refused: credentials must name their registry (--auth HOST=USER).")
    @click.option("--docker-config", type=click.Path(dir_okay=False),
                  help="Docker config.json with credentials (default $DOCKER_CONFIG or ~/.docker).")
    @click.option("--max-workers", type=click.IntRange(1, 64), default=4, show_default=True,
                  help="Parallel blob transfers.")
    @click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True,
                  help="Retries on 429/5xx and connection errors.")
    @functools.wraps(fn)
    def wrapper(*args: Any, insecure: bool, ca_file: str | None, auth: tuple[str, ...],
                password_stdin: bool, password_files: tuple[str, ...], username: str | None,
                docker_config: str | None, max_workers: int, retries: int, **kwargs: Any) -> Any:
        if username is not None:
            raise click.UsageError("--username is not bound to a registry, so it is refused: "
                                   f"use --auth HOST={username} (with --password-stdin), e.g. "
                                   f"--auth ghcr.io={username}")
        kwargs["registry"] = RegistryOptions(
            insecure=insecure, ca_file=ca_file,
            auth=host_credentials(auth, password_files, password_stdin),
            docker_config=docker_config, max_workers=max_workers, max_retries=retries)
        return fn(*args, **kwargs)

    return wrapper


def referrers_mode_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --referrers-mode to a command that writes referrers (after @registry_options, which
    it completes: the mode goes into the same `registry: RegistryOptions`)."""

    @click.option("--referrers-mode", type=click.Choice(list(REFERRERS_MODES)), default="auto",
                  show_default=True, envvar="SCCHECK_REFERRERS_MODE",
                  help="Where signatures and attestations are listed: the registry's referrers API, "
                       "the sha256-<hex> fallback tag, both, or auto (the API where the registry has "
                       "it, else the tag). Env SCCHECK_REFERRERS_MODE.")
    @functools.wraps(fn)
    def wrapper(*args: Any, referrers_mode: str, **kwargs: Any) -> Any:
        kwargs["registry"] = dataclasses.replace(kwargs["registry"], referrers_mode=referrers_mode)
        return fn(*args, **kwargs)

    return wrapper
