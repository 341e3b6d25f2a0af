"""All-or-nothing file writes for the harden outputs (manifests, predicates)."""

from __future__ import annotations

from pathlib import Path

from supplychain.fsutil import atomic_write as _write


def atomic_write(path: str | Path, data: bytes, what: str = "--output") -> None:
    """Write `data` to `path` through a temporary file and a rename: never a half-written file."""
    _write(path, data, what=what)
