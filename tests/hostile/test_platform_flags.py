"""A malformed `--platform` is a usage error found before any request: `sbom` and `attest` on a
registry that does not answer must say exit 2 at once, not wait out retries and say exit 3."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

DIGEST = "sha256:" + "a" * 64
UNREACHABLE = f"127.0.0.1:1/app@{DIGEST}"   # port 1: nothing listens; every request would retry
BAD = ["linux/amd64,,", "linux//amd64", "linux/arm64,linux/arm64/v8", "linux", "linux/amd64/v8/x"]


def _command(name: str, tmp: Path) -> list[str]:
    if name == "sbom":
        return ["sbom", UNREACHABLE, "--output", str(tmp / "s.json")]
    predicate = tmp / "cdx.json"
    predicate.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}')
    key = tmp / "nokey"   # a key that cannot be read would be exit 2 too: give one that is read
    return ["attest", UNREACHABLE, "--type", "sbom", "--predicate", str(predicate), "--key", str(key)]


@pytest.mark.parametrize("platform", BAD)
@pytest.mark.parametrize("name", ["sbom", "attest"])
def test_a_malformed_platform_is_refused_before_any_request(sccheck, tmp_path: Path, name: str,
                                                            platform: str) -> None:
    args = _command(name, tmp_path)
    if name == "attest":
        made = sccheck("generate-key-pair", cwd=tmp_path, env={"COSIGN_PASSWORD": "pw"})
        assert made.returncode == 0, made.stderr
        args[-1] = str(tmp_path / "cosign.key")
    start = time.monotonic()
    proc = sccheck("--json", *args, "--platform", platform, env={"COSIGN_PASSWORD": "pw"})
    assert proc.returncode == 2, proc.stderr
    assert "waiting" not in proc.stderr and "127.0.0.1:1" not in proc.stdout, proc.stderr
    assert time.monotonic() - start < 20
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and "platform" in doc["message"].lower(), doc
