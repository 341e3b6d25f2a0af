"""Every command that reads or writes a registry takes the same registry flags.

The command tree is walked, so a command added later is checked too: it either takes the flags
or is named here as one that touches no registry.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from supplychain.cli import cli

FLAGS = ("--auth", "--password-stdin", "--password-file", "--docker-config", "--ca-file", "--insecure",
         "--max-workers", "--retries")
# Commands that read no registry: source trees, local files, the local Sigstore stack.
NO_REGISTRY = {("check",), ("generate-key-pair",), ("policy", "init"), ("policy", "export"),
               ("trust", "show"), ("dev-stack", "up"), ("dev-stack", "down"), ("dev-stack", "status"),
               ("dev-stack", "env"), ("dev-stack", "token")}
# Named so that the walk cannot silently lose them.
KNOWN_REGISTRY = {("build",), ("sbom",), ("harden", "check"), ("harden", "k8s"), ("harden", "profile"),
                  ("copy",), ("sign",), ("attest",), ("rescan",), ("verify",), ("promote",),
                  ("build-and-sign",), ("registry", "probe"), ("bundle", "export"), ("bundle", "import")}


def _commands(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += _commands(command, click.Context(command, parent=ctx, info_name=name), (*path, name))
        else:
            found.append((*path, name))
    return found


ALL_COMMANDS = _commands(cli, click.Context(cli, info_name="sccheck"))
REGISTRY_COMMANDS = [c for c in ALL_COMMANDS if c not in NO_REGISTRY]


def test_the_walk_sees_every_known_command() -> None:
    assert set(REGISTRY_COMMANDS) >= KNOWN_REGISTRY, KNOWN_REGISTRY - set(REGISTRY_COMMANDS)
    assert set(ALL_COMMANDS) >= NO_REGISTRY, NO_REGISTRY - set(ALL_COMMANDS)


@pytest.mark.parametrize("command", REGISTRY_COMMANDS, ids=" ".join)
def test_registry_flags_on_every_registry_command(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    missing = [flag for flag in FLAGS if flag not in result.output]
    assert missing == [], f"sccheck {' '.join(command)} lacks {missing}"


def test_verify_batch_takes_the_registry_flags_with_it() -> None:
    result = CliRunner().invoke(cli, ["verify", "--help"])
    assert "--batch" in result.output and "--ca-file" in result.output


def test_build_push_has_the_tag_move_flag() -> None:
    result = CliRunner().invoke(cli, ["build", "--help"])
    assert "--force" in result.output and "docs/registry.md" in result.output
