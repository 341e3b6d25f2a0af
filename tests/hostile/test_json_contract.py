"""The --json contract on every exit path: one JSON document with `ok` on stdout, also for what
the argument parser refuses, for --help/--version, for a bug, and with --json after the command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from supplychain.cli import cli
from tests.hostile.crafted import run


@pytest.mark.parametrize(("args", "code"), [
    (["--json", "copy", "--bogus", "a", "b"], 2),
    (["copy", "--json", "--bogus", "a", "b"], 2),
    (["copy", "a", "--json"], 2),
    (["--json", "nosuch"], 2),
    (["--json"], 2),
    (["verify", "--json"], 2),
    (["--json", "verify", "x", "--policy", "/nonexistent/p.yaml"], 2),
    (["--json", "copy", "--retries", "99", "a", "b"], 2),
    (["--json", "--version"], 0),
    (["verify", "--help", "--json"], 0),
    (["copy", "127.0.0.1:1/x:v1", "oci:/nonexistent-dir/x", "--retries", "0", "--json"], 3),
])
def test_one_json_document_on_every_exit_path(args: list[str], code: int) -> None:
    out = run(args, allowed=(code,))
    assert out.doc["ok"] is (code == 0)
    if code:
        assert out.doc["exit_code"] == code and out.doc["message"]


def test_a_bug_is_one_json_document_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import supplychain.copy

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(supplychain.copy, "copy_reference", broken)
    result = CliRunner().invoke(cli, ["copy", "oci:/a", "oci:/b", "--json"])
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc == {"ok": False, "error": "InternalError", "kind": "internal error",
                   "message": "RuntimeError: a bug of ours", "exit_code": 3}
    assert "internal error: RuntimeError: a bug of ours" in result.stderr
