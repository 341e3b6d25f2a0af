"""A real open-source Go service from the Go module proxy at a pinned version, for the build
integration test and the build benchmark: go-containerregistry's in-memory registry
(`cmd/registry`, a main package in cmd/ of a module with dozens of requirements). Fetched with
`go mod download -json` into the module cache (so a warm run reads it from disk), checked by the
go command against the checksum database, and copied to a writable directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

MODULE = "github.com/google/go-containerregistry"
VERSION = "v0.22.1"
MAIN = "./cmd/registry"
PORT_FLAG = "-port"


def fetch(dest: Path) -> Path:
    """The module's source at VERSION, copied to `dest` (writable). Raises when it cannot be
    fetched: a missing proxy fails the test that needs it."""
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    proc = subprocess.run(["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"], capture_output=True,
                          text=True, timeout=600, env=env, check=False)
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise RuntimeError(f"go mod download {MODULE}@{VERSION} failed: {info.get('Error') or proc.stderr}")
    if dest.exists():
        return dest
    shutil.copytree(info["Dir"], dest)
    for root, dirs, files in os.walk(dest):
        for name in (*dirs, *files):
            path = Path(root) / name
            path.chmod(path.stat().st_mode | 0o200)
    return dest
