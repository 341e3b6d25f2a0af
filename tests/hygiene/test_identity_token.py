"""An identity token never has to be on sccheck's command line: `--identity-token` takes @FILE or
`-` (stdin) and refuses a literal token, without repeating it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supplychain.errors import UsageError
from supplychain.signing.tokens import read_token_argument

LITERAL = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def test_file_and_stdin_give_the_token(tmp_path: Path) -> None:
    (tmp_path / "t").write_text(f"  {LITERAL}\n")
    path = tmp_path / "t"
    assert read_token_argument(f"@{path}", lambda: "unused") == (LITERAL, f"--identity-token @{path}")
    assert read_token_argument("-", lambda: LITERAL + "\n")[0] == LITERAL
    with pytest.raises(UsageError) as info:
        read_token_argument(f"@{tmp_path / 'missing'}", lambda: "")
    assert "cannot read the identity token file" in info.value.message


def test_a_literal_token_is_refused_without_being_repeated() -> None:
    with pytest.raises(UsageError) as info:
        read_token_argument(LITERAL, lambda: "")
    assert "refused" in info.value.message and "@FILE" in (info.value.fix or "")
    assert LITERAL not in info.value.diagnostics() and LITERAL not in json.dumps(info.value.to_dict())


@pytest.mark.parametrize("command", [["sign", "oci:/nonexistent:v1"], ["build-and-sign", "."],
                                     ["promote", "127.0.0.1:1/a:v1", "127.0.0.1:1/b:v1"]])
def test_the_cli_refuses_a_token_on_the_command_line(sccheck, command: list[str]) -> None:
    proc = sccheck("--json", *command, "--identity-token", LITERAL)
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)
    assert "identity token on the command line is refused" in doc["message"]
    assert LITERAL not in proc.stdout + proc.stderr


def test_stdin_serves_one_secret_only(sccheck, tmp_path: Path) -> None:
    proc = sccheck("--json", "sign", f"oci:{tmp_path}:v1", "--auth", "127.0.0.1:1=me", "--password-stdin",
                   "--identity-token", "-", input=f"pw\n{LITERAL}\n")
    assert proc.returncode == 2, proc.stderr
    assert "stdin already gives" in json.loads(proc.stdout)["message"]
    assert LITERAL not in proc.stdout + proc.stderr
