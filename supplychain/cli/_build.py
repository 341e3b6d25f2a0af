"""Build-setting flags shared by `build` and `build-and-sign` (one set of settings; the
`build:` section of sccheck.yaml takes the same, docs/build.md)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from supplychain.build.settings import BuildSettings, split_list


def build_settings_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --main, --entrypoint, --arg, --tags, --ldflags, --version-var, -X/--x, --env, --label,
    --expose, --data, --bin-dir, --binary-name, --cgo; the command receives them as one
    `settings: BuildSettings` keyword."""

    @click.option("--main", "mains", multiple=True, metavar="./PKG",
                  help="Main package to build, inside the module (repeatable: several binaries "
                       "in one image). Default: the package at PATH.")
    @click.option("--entrypoint", default=None, metavar="NAME",
                  help="The binary the image runs when several are built.")
    @click.option("--arg", "args", multiple=True,
                  help="Argument after the entrypoint (image Cmd; repeatable).")
    @click.option("--tags", "tags", multiple=True, metavar="TAG[,TAG]", help="Go build tags (repeatable).")
    @click.option("--ldflags", default=None, help="Extra -ldflags appended to the reproducible ones.")
    @click.option("--version-var", default=None,
                  help="Go variable set with -X to the version [main.version].")
    @click.option("-X", "--x", "xvars", multiple=True, metavar="PKG.VAR=VALUE",
                  help="More -X settings for the linker (repeatable).")
    @click.option("--env", "env", multiple=True, metavar="NAME=VALUE", help="Image environment (repeatable).")
    @click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Image label (repeatable).")
    @click.option("--expose", "expose", multiple=True, metavar="PORT[/PROTO]",
                  help="Port the service listens on (repeatable); harden k8s uses it.")
    @click.option("--data", default=None, type=click.Path(file_okay=False), metavar="DIR",
                  help="Directory copied to /var/run/sccheck in the image ($SCCHECK_DATA_PATH).")
    @click.option("--bin-dir", default=None, metavar="/DIR", help="Where the binaries go [/usr/local/bin].")
    @click.option("--binary-name", default=None, metavar="NAME", help="Name of the entrypoint binary.")
    @click.option("--cgo", is_flag=True, default=None,
                  help="Build with CGO_ENABLED=1 against the glibc or musl --base; its loader and "
                       "libraries are checked in the base.")
    @functools.wraps(fn)
    def wrapper(*a: Any, mains: tuple[str, ...], entrypoint: str | None, args: tuple[str, ...],
                tags: tuple[str, ...], ldflags: str | None, version_var: str | None,
                xvars: tuple[str, ...], env: tuple[str, ...], labels: tuple[str, ...],
                expose: tuple[str, ...], data: str | None, bin_dir: str | None, binary_name: str | None,
                cgo: bool | None, **kwargs: Any) -> Any:
        kwargs["settings"] = BuildSettings(
            mains=tuple(mains), entrypoint=entrypoint, args=tuple(args), tags=split_list(tags),
            ldflags=ldflags or "", version_var=version_var, xvars=tuple(xvars), env=tuple(env),
            labels=tuple(labels), expose=split_list(expose), data=data, bin_dir=bin_dir,
            binary_name=binary_name, cgo=True if cgo else None)
        return fn(*a, **kwargs)

    return wrapper
