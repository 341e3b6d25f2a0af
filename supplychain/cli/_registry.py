"""Registry flags shared by every command that talks to registries.

    @click.command()
    @registry_options
    def cmd(registry: RegistryOptions, ...): ...
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from supplychain.registry import RegistryOptions
from supplychain.registry.options import REFERRERS_MODES


def registry_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --insecure, --ca-file, --username, --password-stdin, --docker-config, --max-workers,
    --retries; the command receives them as one `registry: RegistryOptions` keyword."""

    @click.option("--insecure", is_flag=True,
                  help="Allow plain HTTP to non-loopback registries (loopback hosts always may).")
    @click.option("--ca-file", type=click.Path(exists=True, dir_okay=False),
                  help="PEM file of CA certificates to trust for registry TLS.")
    @click.option("--username", envvar="SCCHECK_REGISTRY_USERNAME",
                  help="Registry user (env SCCHECK_REGISTRY_USERNAME).")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the registry password from stdin (else env SCCHECK_REGISTRY_PASSWORD, "
                       "else the Docker config).")
    @click.option("--docker-config", type=click.Path(dir_okay=False),
                  help="Docker config.json with credentials (default $DOCKER_CONFIG or ~/.docker).")
    @click.option("--max-workers", type=click.IntRange(1, 64), default=4, show_default=True,
                  help="Parallel blob transfers.")
    @click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True,
                  help="Retries on 429/5xx and connection errors.")
    @functools.wraps(fn)
    def wrapper(*args: Any, insecure: bool, ca_file: str | None, username: str | None,
                password_stdin: bool, docker_config: str | None, max_workers: int, retries: int,
                **kwargs: Any) -> Any:
        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not username:
                raise click.UsageError("--password-stdin needs --username")
        kwargs["registry"] = RegistryOptions(
            insecure=insecure, ca_file=ca_file, username=username, password=password,
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
