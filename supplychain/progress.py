"""Progress reporting: the library reports through an observer; the CLI decides how to show it."""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def step(self, name: str, detail: str = "") -> None:
        """A unit of work started."""

    def done(self, name: str, detail: str = "") -> None:
        """A unit of work finished."""

    def info(self, message: str) -> None:
        """A remark worth showing to a person."""


class SilentProgress:
    """Reports nothing: the default for library callers."""

    def step(self, name: str, detail: str = "") -> None:
        pass

    def done(self, name: str, detail: str = "") -> None:
        pass

    def info(self, message: str) -> None:
        pass


class StderrProgress:
    """Plain lines on stderr with elapsed time; thread-safe, so concurrent steps can report."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream  # None: whatever sys.stderr is when a line is written
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}

    def _write(self, line: str) -> None:
        with self._lock:
            stream = self._stream or sys.stderr
            stream.write(line + "\n")
            stream.flush()

    def step(self, name: str, detail: str = "") -> None:
        self._started[name] = time.monotonic()
        self._write(f"… {name}" + (f": {detail}" if detail else ""))

    def done(self, name: str, detail: str = "") -> None:
        began = self._started.pop(name, None)
        took = f" ({time.monotonic() - began:.1f}s)" if began is not None else ""
        self._write(f"✓ {name}{took}" + (f": {detail}" if detail else ""))

    def info(self, message: str) -> None:
        self._write(f"  {message}")


# Notices from deep inside the library (a registry being waited for, a retry pending) that no
# caller asked about step by step. The CLI points them at its progress; by default they vanish.
_notice_sink: Progress | None = None


def set_notice_sink(progress: Progress | None) -> None:
    global _notice_sink
    _notice_sink = progress


def notices_wanted() -> bool:
    return _notice_sink is not None


def notice(message: str) -> None:
    sink = _notice_sink
    if sink is not None:
        sink.info(message)
