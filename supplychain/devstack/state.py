"""The dev-stack's state directory: keys, server data, logs, pid files and the trust config.

Layout (everything under one directory, default `$SCCHECK_DEV_STACK_DIR` or
`~/.cache/sccheck/dev-stack`):

    keys/        persistent keys and certificates (reused across restarts)
    data/ct/     TesseraCT's tiles        data/rekor/  Rekor v2's tiles
    logs/        one log per server       run/         one pid file per server
    stack.json   ports and creation time  trust_config.json, trusted_root.json, fulcio.json
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supplychain.errors import DevStackError
from supplychain.fsutil import atomic_write
from supplychain.strictdoc import load_json

ENV_DIR = "SCCHECK_DEV_STACK_DIR"


def default_dir() -> Path:
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "sccheck" / "dev-stack"


def write_atomic(path: Path, data: bytes | str, mode: int | None = None) -> None:
    """Write a file whole or not at all (temp file in the same directory, then rename)."""
    atomic_write(path, data, mode=mode)


@dataclass(frozen=True)
class StateDir:
    root: Path

    @classmethod
    def at(cls, path: Path | str | None) -> StateDir:
        root = Path(path).expanduser() if path else default_dir()
        return cls(root.resolve())

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def stack_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def trust_config(self) -> Path:
        return self.root / "trust_config.json"

    @property
    def trusted_root(self) -> Path:
        return self.root / "trusted_root.json"

    @property
    def fulcio_config(self) -> Path:
        return self.root / "fulcio.json"

    def ensure(self) -> None:
        for sub in (self.root, self.keys, self.data / "ct", self.data / "rekor", self.logs, self.run):
            sub.mkdir(parents=True, exist_ok=True)
        os.chmod(self.keys, 0o700)

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def read_stack(self) -> dict[str, Any]:
        """The persisted ports and creation time; {} on a fresh directory."""
        if not self.stack_file.exists():
            return {}
        try:
            data = load_json(self.stack_file.read_bytes(), str(self.stack_file), error=DevStackError)
        except (OSError, DevStackError) as exc:
            raise DevStackError(
                "the dev-stack state file cannot be read",
                expected="a JSON object written by 'sccheck dev-stack up'",
                found=f"{self.stack_file}: {exc}",
                fix=f"remove {self.stack_file} (keys in {self.keys} are kept) and run up again",
            ) from exc
        if not isinstance(data, dict):
            raise DevStackError("the dev-stack state file is not a JSON object",
                                expected="a JSON object", found=type(data).__name__,
                                fix=f"remove {self.stack_file} and run up again")
        return data

    def write_stack(self, data: dict[str, Any]) -> None:
        write_atomic(self.stack_file, json.dumps(data, indent=2, sort_keys=True) + "\n")
