"""`--auth HOST=USER` never carries a password: a value that looks like `user:password` (docker's
habit) is refused without being repeated, so the secret does not reach logs through the error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SECRET = "pw-Zq8vLk2Rt7Xw"


@pytest.mark.parametrize("value", [f"robot:{SECRET}", f"127.0.0.1:5000=robot:{SECRET}", SECRET,
                                   f"={SECRET}", f"ghcr.io/{SECRET}=robot"])
@pytest.mark.parametrize("command", ["copy", "verify"])
def test_a_password_in_auth_is_refused_without_being_repeated(sccheck, tmp_path: Path, value: str,
                                                              command: str) -> None:
    pw = tmp_path / "pw"
    pw.write_text("file-password\n")
    args = {"copy": ["copy", f"oci:{tmp_path}/a:v1", "127.0.0.1:1/b:v1"],
            "verify": ["verify", "127.0.0.1:1/b:v1", "--policy", str(tmp_path / "p.yaml")]}[command]
    for extra in (["--password-stdin"], ["--password-file", f"127.0.0.1:5000={pw}"]):
        proc = sccheck("--json", "--verbose", *args, "--auth", value, *extra, input="stdin-password\n")
        assert proc.returncode == 2, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["ok"] is False and "--auth" in doc["message"], doc
        assert SECRET not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
