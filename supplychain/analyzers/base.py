"""What every analyzer module shares: the context it runs in and how it runs a program.

An analyzer module exposes `NAME` and `run(ctx) -> ToolOutput`; it raises an `Error`
(`ToolMissing`, `ToolFailed`, `AnalyzerError`) when it cannot do its job. Its parsing
functions are pure, so unit tests feed them recorded tool output.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from supplychain.analyzers.model import ToolOutput
from supplychain.errors import ToolFailed
from supplychain.fsutil import atomic_write
from supplychain.tools import child_env

DEFAULT_TIMEOUT = 900.0
MAX_OUTPUT = 64 * 1024 * 1024  # a tool printing more than this is treated as broken


@dataclass(frozen=True)
class TestOptions:
    """What `go test` is asked to do: `-short`, `-timeout DURATION`, `-run REGEX`, `-count N`,
    and a shell command run once in the module before any tool (e.g. `make fixtures`)."""

    short: bool = False
    timeout: str | None = None
    run: str | None = None
    count: int | None = None
    pre_test: str | None = None

    def flags(self) -> list[str]:
        out = ["-short"] if self.short else []
        if self.timeout:
            out.append(f"-timeout={self.timeout}")
        if self.run:
            out.append(f"-run={self.run}")
        if self.count is not None:
            out.append(f"-count={self.count}")
        return out


@dataclass(frozen=True)
class ToolContext:
    """Where and how to analyze: `root` is the module directory (source mode) or the
    directory holding `binary` (binary mode); `packages` the patterns every tool is given."""

    root: Path
    binary: Path | None = None
    vuln_db: str = "https://vuln.go.dev"
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    timeout: float = DEFAULT_TIMEOUT
    packages: tuple[str, ...] = ("./...",)
    tests: TestOptions = field(default_factory=TestOptions)
    module: str = ""

    @property
    def mode(self) -> str:
        return "binary" if self.binary else "source"

    def relpath(self, filename: str) -> str:
        """A tool's file name as a '/'-path relative to the root (absolute outside it)."""
        path = Path(filename)
        if not path.is_absolute():
            return path.as_posix()
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path.as_posix()


class Analyzer(Protocol):
    NAME: str

    def run(self, ctx: ToolContext) -> ToolOutput: ...


def execute(argv: list[str], ctx: ToolContext, *, env: Mapping[str, str] | None = None,
            tool: str) -> subprocess.CompletedProcess[str]:
    """Run a tool in the root; a timeout, a crash to start or runaway output is ToolFailed."""
    try:
        proc = subprocess.run(argv, cwd=ctx.root, env=child_env(env or ctx.env), capture_output=True,
                              text=True, timeout=ctx.timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{tool} did not finish in {ctx.timeout:.0f}s",
                         expected="the tool to finish", found="a timeout",
                         fix="check the module builds quickly with 'go build ./...'",
                         facts={"command": " ".join(argv)}) from None
    except OSError as exc:
        raise ToolFailed(f"{tool} could not be started: {exc}", expected=f"a runnable {argv[0]}",
                         found=str(exc), fix="reinstall the tool",
                         facts={"command": " ".join(argv)}) from None
    if len(proc.stdout) + len(proc.stderr) > MAX_OUTPUT:
        raise ToolFailed(f"{tool} printed more than {MAX_OUTPUT} bytes", expected="bounded output",
                         found=f"{len(proc.stdout) + len(proc.stderr)} bytes",
                         fix="run the tool by hand to see what it prints")
    return proc


def failed(tool: str, argv: list[str], proc: subprocess.CompletedProcess[str], why: str,
           fix: str) -> ToolFailed:
    """The error for a tool that exited in a way its findings cannot explain."""
    return ToolFailed(f"{tool} failed: {why}", expected="the tool to analyze the module",
                      found=f"exit status {proc.returncode}", fix=fix,
                      facts={"command": " ".join(argv),
                             "stderr": (proc.stderr or proc.stdout).strip()[-4000:]})


def json_values(text: str) -> Iterator[Any]:
    """Yield each JSON object or array of a stream of concatenated values. A line that does not
    start one is skipped: vet's `# pkg` headers, the go command's `go: downloading ...` lines
    (printed on a cold module cache, on the same stream as vet's JSON)."""
    decoder = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return
        if text[i] not in "{[":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
            continue
        value, i = decoder.raw_decode(text, i)
        yield value


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON to `path` through a temporary file and a rename: never half-written."""
    atomic_write(path, json.dumps(value, indent=2, sort_keys=True) + "\n")
