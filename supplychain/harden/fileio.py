"""All-or-nothing file writes for the harden outputs (manifests, predicates)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from supplychain.errors import UsageError


def atomic_write(path: str | Path, data: bytes, what: str = "--output") -> None:
    """Write `data` to `path` through a temporary file and a rename: never a half-written file."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}", fix=f"choose a writable {what}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
