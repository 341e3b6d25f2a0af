"""Every command that reads or writes a registry takes the same registry flags."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from supplychain.cli import cli

REGISTRY_COMMANDS = [("build",), ("sbom",), ("harden", "check"), ("harden", "k8s"), ("copy",), ("sign",),
                     ("attest",), ("verify",), ("promote",), ("build-and-sign",)]
FLAGS = ("--auth", "--password-stdin", "--password-file", "--docker-config", "--ca-file", "--insecure",
         "--max-workers", "--retries")


@pytest.mark.parametrize("command", REGISTRY_COMMANDS, ids=" ".join)
def test_registry_flags_on_every_registry_command(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    missing = [flag for flag in FLAGS if flag not in result.output]
    assert missing == [], f"sccheck {' '.join(command)} lacks {missing}"


def test_build_push_has_the_tag_move_flag() -> None:
    result = CliRunner().invoke(cli, ["build", "--help"])
    assert "--force" in result.output and "docs/registry.md" in result.output
