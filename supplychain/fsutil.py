"""Whole-or-nothing file writes, shared by every command that writes a file.

File modes: an output (SBOM, tarball, SARIF, layout, report) gets what `open()` would give it,
0666 (directories 0777) less the umask, as other tools' outputs do; a secret (a private key, a
token, a password file) is written 0600 by its writer, whatever the umask.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from supplychain.errors import UsageError

SECRET_MODE = 0o600


def cache_root() -> Path:
    """sccheck's cache directory: $SCCHECK_CACHE_DIR, else $XDG_CACHE_HOME/sccheck, else
    ~/.cache/sccheck (layers, check results)."""
    base = os.environ.get("SCCHECK_CACHE_DIR")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sccheck"


def prune_least_recent(directory: Path, suffix: str, max_bytes: int, keep: Path) -> None:
    """Remove the least recently used `*suffix` files of `directory` (by mtime: a reader touches
    what it uses) until they hold at most `max_bytes`; never `keep`, the entry just written.
    Best effort: a file that cannot be read or removed is passed over."""
    entries = []
    kept = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if not entry.name.endswith(suffix):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat()
                if entry.path == str(keep):
                    kept = st.st_size
                else:
                    entries.append((st.st_mtime, st.st_size, entry.path))
    total = kept + sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
        total -= size


@functools.cache
def umask() -> int:
    """The process umask, read without changing it where /proc has it (os.umask can only be read
    by setting it, which would race with other threads creating files)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


def output_mode(*, directory: bool = False) -> int:
    """The mode a new output file (or directory) gets: 0666 (0777) less the umask."""
    return (0o777 if directory else 0o666) & ~umask()


def temp_file_beside(target: Path, *, mode: int | None = None, prefix: str | None = None) -> tuple[int, str]:
    """A temporary file in `target`'s directory (for a rename onto `target`), with `mode`
    (default: an output's mode) set before any byte is written; mkstemp alone gives 0600."""
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, output_mode() if mode is None else mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fd, tmp


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, mode: int | None = None, what: str | None = None,
                  name: str | None = None, sync: bool = True) -> Iterator[BinaryIO]:
    """A binary file handle whose bytes land at `path` only when the block ends without an
    exception: written to a temporary file in the same directory (missing directories are made)
    and renamed onto `path`, so a reader sees the old file or the new one, never half of one; on
    an exception the temporary file is removed. `mode` (default: an output's, after the umask;
    SECRET_MODE for keys) is applied before any byte is written. With `what` (a flag name), a
    path that cannot be written is a usage error naming that flag (and `name`, default the path).
    `sync` flushes the bytes to disk before the rename."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_beside(target, mode=mode)
    except OSError as exc:
        if what is None:
            raise
        raise UsageError(f"cannot write {name or target}: {exc.strerror}",
                         fix=f"choose a writable {what}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int | None = None,
                 what: str | None = None) -> None:
    """Write `data` to `path` whole or not at all (`atomic_output`)."""
    with atomic_output(path, mode=mode, what=what) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
