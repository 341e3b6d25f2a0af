"""`build(..., meanwhile=...)`: the caller's work runs while Go compiles, not before or after; and
the base is read while Go compiles, a base that fails stopping the compile."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, build, daemonless
from supplychain.build.gocompile import BuildCancelled, CompileRequest, compile_binary, locate
from supplychain.errors import BuildError
from supplychain.image.platform import Platform

MULTI = Path(__file__).parent / "modules" / "multi"


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


def test_a_base_that_cannot_be_read_stops_the_compile(hello_repo: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    stopped: list[bool] = []

    def compiling(*args: object, cancel: threading.Event | None = None, **kwargs: object) -> object:
        # this compile never ends by itself: only the build's cancel lets it go
        stopped.append(cancel is not None and cancel.wait(30))
        raise BuildCancelled("stopped")

    monkeypatch.setattr(daemonless, "compile_binary", compiling)
    with pytest.raises(BuildError, match="cannot read the base image") as err:
        build(BuildRequest(str(hello_repo), base=f"oci:{tmp_path / 'no-such-layout'}"))
    assert not isinstance(err.value, BuildCancelled)   # the base's error is the one reported
    assert stopped == [True]


def test_a_cancelled_compile_is_killed_and_leaves_no_files(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    module, _ = locate(MULTI)
    cancel = threading.Event()
    # -a: every package rebuilt, a compile of several seconds, stopped 0.3 s in
    req = CompileRequest(module, package="./cmd/worker", goflags="-a")
    threading.Timer(0.3, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(BuildCancelled, match="stopped"):
        compile_binary(req, Platform.host(), tmp_path / "worker", cancel=cancel)
    assert time.monotonic() - began < 3
    assert not (tmp_path / "worker").exists()
    assert os.listdir(scratch) == []     # go's own work directory is gone with ours
