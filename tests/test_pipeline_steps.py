"""The step runner (ordering, concurrency, stop at the first failure) and build-and-sign's table
of steps with typed results, on fakes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from supplychain.errors import CheckFailed, Error, PipelineError, UsageError
from supplychain.image.reference import parse_image_ref
from supplychain.pipeline import results
from supplychain.pipeline.config import PipelineConfig, PipelineRequest
from supplychain.pipeline.provenance import SourceFacts
from supplychain.pipeline.report import PipelineFailed, PipelineResult, summary_table, to_dict
from supplychain.pipeline.run import STEPS, Run, StepSpec, steps_for
from supplychain.pipeline.steps import RunFailed, Step, run
from supplychain.progress import SilentProgress


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


# --- build-and-sign's table of steps (fakes for everything outside our logic) -------------------

def fake_run(promote_to: str | None = None) -> Run:
    req = PipelineRequest(path="/src/app", repo="reg.example/team/app", promote_to=promote_to)
    no_policy: Any = None
    return Run(req, parse_image_ref(req.repo), "v1", no_policy, Path("policy.yaml"), Path("/tmp/oci"),
               Path("/tmp/profiles"), SourceFacts(None, None, None, None, "."), "go1.26.0",
               dt.datetime.now(dt.UTC), SilentProgress())


def test_each_step_function_takes_exactly_the_results_its_row_hands_it() -> None:
    names = [s.name for s in STEPS]
    for position, spec in enumerate(STEPS):
        params = list(inspect.signature(spec.fn).parameters)
        assert params[0] == "run" and tuple(params[1:]) == spec.uses, spec.name
        assert set(spec.needs) <= set(names[:position]), f"{spec.name} needs a later step"


def test_the_chain_order_is_the_documented_one() -> None:
    needs = {s.name: set(s.needs) for s in STEPS}
    assert needs["check"] == needs["build"] == set()
    assert needs["sbom"] == needs["profile"] == {"build"} and needs["harden"] == {"build", "profile"}
    assert needs["gate"] >= {"check", "sbom", "harden"}
    assert needs["push"] == {"build", "check", "sbom", "harden", "gate"}   # nothing leaves before these
    assert needs["sign"] >= {"push", "check", "sbom", "harden"}
    assert needs["attest"] >= {"sign", "gate"}          # it signs exactly what the gate judged
    assert needs["verify"] >= {"attest"} and needs["promote"] >= {"verify"}
    assert [s.name for s in steps_for(fake_run())][-1] == "verify"          # no promotion asked
    assert [s.name for s in steps_for(fake_run("reg.example/prod/app:v1"))][-1] == "promote"


@dataclasses.dataclass(frozen=True)
class Out:
    text: str

    @property
    def summary(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text}


def test_typed_results_are_handed_on_by_name() -> None:
    seen: dict[str, tuple[object, ...]] = {}

    def first(run: Run) -> Out:
        return Out(run.request.repo)

    def second(run: Run, first: Out) -> Out:
        seen["second"] = (first,)
        return Out(first.text + "+")

    table = (StepSpec("first", first), StepSpec("second", second, ("first",)))
    report = run(steps_for(fake_run(), table))
    assert seen["second"] == (Out("reg.example/team/app"),)
    assert report.value("second") == Out("reg.example/team/app+")
    doc = to_dict(PipelineResult(report))
    assert doc["ok"] is True and doc["steps"]["second"]["result"] == {"text": "reg.example/team/app+"}
    assert doc["steps"]["second"]["summary"] == "reg.example/team/app+"


def test_every_step_result_is_frozen() -> None:
    kinds = [results.Pinned, results.CheckOut, results.BuildOut, results.SbomOut, results.ProfileOut,
             results.HardenOut, results.Evidence, results.GateOut, results.PushOut, results.SignOut,
             results.Attestation, results.AttestOut, results.VerifyOut, results.PromoteOut]
    for kind in kinds:
        params: Any = getattr(kind, "__dataclass_params__", None)
        assert dataclasses.is_dataclass(kind) and params.frozen, kind.__name__
    returned = {inspect.signature(s.fn).return_annotation for s in STEPS}
    parts = (results.Pinned, results.Attestation, results.Evidence)
    assert returned == {k.__name__ for k in kinds if k not in parts}


def test_a_stopped_chain_is_an_error_with_the_steps_exit_code_and_table() -> None:
    def bad(_run: Run) -> Out:
        raise CheckFailed("reachable vulnerability", found="GO-2021-0113")

    table = (StepSpec("lint", bad), StepSpec("compile", lambda _run: Out("built")),
             StepSpec("ship", lambda _run, compile: Out("shipped"), ("compile",), ("lint",)))
    with pytest.raises(RunFailed) as info:
        run(steps_for(fake_run(), table), max_workers=2)
    failed = PipelineFailed(PipelineResult(info.value.report, info.value.error))
    assert isinstance(failed, Error) and failed.exit_code == CheckFailed.exit_code == 1
    doc = failed.to_dict()
    assert doc["ok"] is False and doc["kind"] == "check failed" and doc["found"] == "GO-2021-0113"
    assert doc["steps"]["ship"]["status"] == "skipped" and doc["steps"]["compile"]["status"] == "ok"
    assert doc["reference"] is None
    assert "reachable vulnerability" in failed.diagnostics()
    assert summary_table(failed.result).splitlines()[0].split() == ["step", "status", "time", "result"]


def test_config_merging_defaults_file_flags() -> None:
    file = PipelineConfig(repo="reg.example/team/app", base="scratch", fail_on="high", key="cosign.key")
    asked: list[str] = []

    def password(key: str) -> str:
        asked.append(key)
        return "pw"

    req = file.merged(fail_on="low", tag="v2").request("/src/app", key_password=password)
    assert (req.repo, req.base, req.fail_on, req.tag, req.key_password) == (
        "reg.example/team/app", "scratch", "low", "v2", "pw")
    assert asked == ["cosign.key"]
    plain = PipelineConfig(repo="r.example/a").request("/src", key_password=password)
    assert (plain.base, plain.fail_on, plain.key_password) == ("static", "medium", None)
    assert asked == ["cosign.key"]
    with pytest.raises(UsageError, match="no repository"):
        PipelineConfig().request("/src")
