"""The runner: tools run concurrently, failures are contained, requests are validated."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from supplychain.analyzers import CheckRequest, FailOn, Severity, check, parse_tools, runner
from supplychain.analyzers.model import Finding, ToolOutput
from supplychain.errors import ToolFailed, UsageError
from tests.analyzers.conftest import FIXTURES


def test_real_tools_overlap_wall_time_is_below_the_sum_of_tool_times(checked):
    result = checked("hello")
    seconds = {r.tool: r.seconds for r in result.tools}
    assert set(seconds) == {"vet", "staticcheck", "vuln", "race"}
    assert all(s > 0 for s in seconds.values())
    assert result.wall_seconds < result.tool_seconds
    assert result.to_dict()["tool_seconds"] == round(sum(seconds.values()), 3)


def test_runner_starts_tools_concurrently(monkeypatch):
    """Two fake tools that each wait for the other: they only finish when run at once."""
    barrier = threading.Barrier(2, timeout=10)

    def meet(ctx):
        barrier.wait()
        return ToolOutput(findings=(), command=("fake",))

    monkeypatch.setattr(runner, "RUNNERS", {**runner.RUNNERS, "vet": meet, "race": meet})
    result = check(CheckRequest(path=FIXTURES / "clean", tools=("race", "vet"), max_workers=2))
    assert [(r.tool, r.status) for r in result.tools][:2] == [("race", "ok"), ("vet", "ok")]


def test_staticcheck_runs_after_vet_in_one_lane(monkeypatch):
    """vet and staticcheck share compiled export data, so they never run side by side."""
    spans: dict[str, tuple[float, float]] = {}

    def timed(name):
        def run(ctx):
            began = time.monotonic()
            time.sleep(0.2)
            spans[name] = (began, time.monotonic())
            return ToolOutput(findings=(), command=(name,))
        return run

    monkeypatch.setattr(runner, "RUNNERS", {name: timed(name) for name in runner.RUNNERS})
    result = check(CheckRequest(path=FIXTURES / "clean", max_workers=4))
    assert [r.tool for r in result.tools] == ["vet", "staticcheck", "vuln", "race"]
    assert spans["staticcheck"][0] >= spans["vet"][1]
    assert spans["race"][0] < spans["vet"][1] and spans["vuln"][0] < spans["vet"][1]


def test_one_failing_tool_does_not_stop_the_others_and_exits_3(monkeypatch):
    def broken(ctx):
        raise ToolFailed("boom", expected="x", found="y", fix="z")

    def slow_finding(ctx):
        time.sleep(0.05)
        return ToolOutput(findings=(Finding(tool="vet", rule="printf", severity=Severity.HIGH,
                                            message="m"),), command=("fake",))

    monkeypatch.setattr(runner, "RUNNERS", {**runner.RUNNERS, "vet": slow_finding, "race": broken})
    result = check(CheckRequest(path=FIXTURES / "clean", tools=("vet", "race")))
    assert [(r.tool, r.status) for r in result.tools] == [
        ("vet", "ok"), ("race", "failed"), ("staticcheck", "skipped"), ("vuln", "skipped")]
    assert result.run("race").error["message"] == "boom"
    assert len(result.failing) == 1
    assert result.exit_code == 3


def test_fail_on_parsing_and_thresholds():
    assert FailOn.parse("high").default is Severity.HIGH
    fail_on = FailOn.parse("low,vuln=high,staticcheck=none")
    assert fail_on.threshold("vet") is Severity.LOW
    assert fail_on.threshold("vuln") is Severity.HIGH
    assert fail_on.threshold("staticcheck") is None
    assert fail_on.describe() == "low,vuln=high,staticcheck=none"
    low_vuln = Finding(tool="vuln", rule="GO-1", severity=Severity.LOW, message="m")
    assert not fail_on.fails(low_vuln)
    assert FailOn.parse("none").fails(low_vuln) is False
    with pytest.raises(UsageError, match="unknown severity"):
        FailOn.parse("severe")
    with pytest.raises(UsageError, match="unknown tool"):
        FailOn.parse("lint=high")


def test_bad_requests_are_usage_errors(tmp_path: Path, vuln_binary: Path):
    with pytest.raises(UsageError, match="does not exist"):
        check(CheckRequest(path=tmp_path / "nope"))
    with pytest.raises(UsageError, match="is not a Go module"):
        check(CheckRequest(path=tmp_path))
    with pytest.raises(UsageError, match="not a Go vulnerability database"):
        check(CheckRequest(path=FIXTURES / "clean", vuln_db=str(tmp_path)))
    with pytest.raises(UsageError, match="only the vuln scan"):
        check(CheckRequest(path=vuln_binary, tools=("vet",)))
    with pytest.raises(UsageError, match="unknown tool"):
        parse_tools("vet,lint")
    assert parse_tools("race,vet,race") == ("race", "vet")
