"""Whole-or-nothing file writes, shared by every command that writes a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from supplychain.errors import UsageError


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o644,
                 what: str | None = None) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename, so a
    reader sees the old file or the new one, never half of one. Missing directories are made.
    `mode` is applied before any byte is written (0o600 for keys). With `what` (a flag name),
    a path that cannot be written is a usage error naming that flag."""
    target = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        if what is None:
            raise
        raise UsageError(f"cannot write {target}: {exc.strerror}", fix=f"choose a writable {what}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
