"""`build(..., meanwhile=...)`: the caller's work runs while Go compiles, not before or after."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, build, daemonless
from supplychain.build.gocompile import compile_binary


def test_meanwhile_runs_while_the_compiler_runs(hello_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started, caller_done = threading.Event(), threading.Event()

    def compiling(*args: object, **kwargs: object) -> object:
        started.set()
        # the compile cannot finish until the caller's work has run: a build that called it
        # only after the compile would fail here
        assert caller_done.wait(30), "meanwhile did not run while the compile was running"
        return compile_binary(*args, **kwargs)  # type: ignore[arg-type]

    def caller_work() -> None:
        assert started.wait(30), "meanwhile ran before any compile had started"
        caller_done.set()

    monkeypatch.setattr(daemonless, "compile_binary", compiling)
    result = build(BuildRequest(str(hello_repo), platforms=("linux/amd64", "linux/arm64")),
                   meanwhile=caller_work)
    assert caller_done.is_set() and len(result.images) == 2


def test_meanwhile_failure_is_the_builds_failure(hello_repo: Path) -> None:
    def broken() -> None:
        raise RuntimeError("the caller's own work failed")

    with pytest.raises(RuntimeError, match="caller's own work"):
        build(BuildRequest(str(hello_repo)), meanwhile=broken)
