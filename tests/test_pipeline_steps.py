"""The step runner: ordering, concurrency, stop at the first failure."""

from __future__ import annotations

import threading
import time

import pytest

from supplychain.errors import CheckFailed, PipelineError
from supplychain.pipeline.steps import RunFailed, Step, run


def test_needs_are_respected_and_values_flow() -> None:
    steps = [
        Step("a", lambda _: 1),
        Step("b", lambda v: v["a"] + 1, needs=("a",)),
        Step("c", lambda v: v["a"] + v["b"], needs=("a", "b")),
    ]
    report = run(steps)
    assert report.ok and report.value("c") == 3
    assert [r.status for r in report.steps.values()] == ["ok", "ok", "ok"]


def test_independent_steps_overlap() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet(_: object) -> str:
        barrier.wait()  # only returns when both steps run at the same time
        return "met"

    report = run([Step("x", meet), Step("y", meet)], max_workers=2)
    assert report.value("x") == report.value("y") == "met"


def test_first_failure_stops_dependants_and_is_reported() -> None:
    started: list[str] = []

    def slow(_: object) -> str:
        started.append("slow")
        time.sleep(0.2)
        return "done"

    def bad(_: object) -> None:
        raise CheckFailed("reachable vulnerability", found="GO-2021-0113")

    steps = [Step("check", bad), Step("build", slow),
             Step("sign", lambda _: "signed", needs=("check", "build"))]
    with pytest.raises(RunFailed) as info:
        run(steps, max_workers=2)
    report = info.value.report
    assert info.value.error.message == "reachable vulnerability"
    assert report.steps["check"].status == "failed"
    assert report.steps["build"].status == "ok"        # already running: allowed to finish
    assert report.steps["sign"].status == "skipped"    # never signs after a failed check


def test_crash_becomes_pipeline_error_and_bad_graphs_are_refused() -> None:
    with pytest.raises(RunFailed) as info:
        run([Step("boom", lambda _: 1 / 0)])
    assert isinstance(info.value.error, PipelineError) and "ZeroDivisionError" in info.value.error.message
    with pytest.raises(PipelineError, match="cycle"):
        run([Step("a", lambda _: 1, needs=("b",)), Step("b", lambda _: 1, needs=("a",))])
    with pytest.raises(PipelineError, match="unknown"):
        run([Step("a", lambda _: 1, needs=("zzz",))])
