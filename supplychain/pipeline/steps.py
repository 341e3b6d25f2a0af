"""A small DAG runner for the build-and-sign chain.

Steps declare what they need; those whose needs are met run concurrently (bounded). The first
failure stops the chain: steps not yet started are marked `skipped`, running ones finish, and
the failing step's error is re-raised by `run()` after every result is recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from supplychain.errors import Error, PipelineError
from supplychain.progress import Progress, SilentProgress

StepFn = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Step:
    """`fn` gets the values of the steps it `needs` (by name) and returns its own value."""

    name: str
    fn: StepFn
    needs: tuple[str, ...] = ()
    title: str = ""


@dataclass
class StepResult:
    name: str
    status: str = "pending"          # pending | running | ok | failed | skipped
    seconds: float = 0.0
    value: Any = None
    error: Error | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "seconds": round(self.seconds, 3)}
        if self.error is not None:
            out["error"] = self.error.to_dict()
        return out


@dataclass
class RunReport:
    steps: dict[str, StepResult] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.steps.values())

    def value(self, name: str) -> Any:
        return self.steps[name].value

    def failed(self) -> StepResult | None:
        return next((r for r in self.steps.values() if r.status == "failed"), None)


def _check_graph(steps: list[Step]) -> None:
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise PipelineError("duplicate step names", found=", ".join(names))
    known = set(names)
    for step in steps:
        missing = [n for n in step.needs if n not in known]
        if missing:
            raise PipelineError(f"step {step.name} needs unknown steps", found=", ".join(missing))
    # cycle check (Kahn)
    indegree = {s.name: len(s.needs) for s in steps}
    users: dict[str, list[str]] = {s.name: [] for s in steps}
    for step in steps:
        for need in step.needs:
            users[need].append(step.name)
    ready = [n for n, d in indegree.items() if d == 0]
    seen = 0
    while ready:
        name = ready.pop()
        seen += 1
        for user in users[name]:
            indegree[user] -= 1
            if indegree[user] == 0:
                ready.append(user)
    if seen != len(steps):
        raise PipelineError("the steps form a cycle")


def run(steps: list[Step], *, progress: Progress | None = None, max_workers: int = 2) -> RunReport:
    """Run `steps` respecting `needs`. Returns the report, or raises `RunFailed` carrying the
    report and the first step's error."""
    _check_graph(steps)
    progress = progress or SilentProgress()
    report = RunReport({s.name: StepResult(s.name) for s in steps})
    values: dict[str, Any] = {}
    lock = threading.Lock()
    began = time.monotonic()
    failure: Error | None = None

    def call(step: Step) -> Any:
        result = report.steps[step.name]
        with lock:
            inputs = {n: values[n] for n in step.needs}
        result.status = "running"
        progress.step(step.name, step.title)
        start = time.monotonic()
        try:
            value = step.fn(inputs)
        finally:
            result.seconds = time.monotonic() - start
        return value

    running: dict[Future[Any], str] = {}
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sccheck-step") as pool:
        while True:
            if failure is None:
                for step in steps:
                    result = report.steps[step.name]
                    if result.status != "pending" or step.name in running.values():
                        continue
                    if all(report.steps[n].status == "ok" for n in step.needs):
                        running[pool.submit(call, step)] = step.name
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                result = report.steps[name]
                exc = future.exception()
                if exc is None:
                    result.status = "ok"
                    result.value = future.result()
                    with lock:
                        values[name] = result.value
                    progress.done(name, _summary(result.value))
                else:
                    result.status = "failed"
                    err = exc if isinstance(exc, Error) else PipelineError(
                        f"step {name} crashed: {type(exc).__name__}: {exc}")
                    result.error = err
                    progress.info(f"✗ {name} failed ({result.seconds:.1f}s): {err.message}")
                    if failure is None:
                        failure = err
    for result in report.steps.values():
        if result.status == "pending":
            result.status = "skipped"
    report.seconds = time.monotonic() - began
    if failure is not None:
        raise RunFailed(report, failure)
    return report


def _summary(value: Any) -> str:
    summary = getattr(value, "summary", None)
    if isinstance(value, Mapping):
        summary = value.get("summary")
    return summary if isinstance(summary, str) else ""


class RunFailed(Error):
    """The chain stopped: carries the partial report and the first step's error, whose kind,
    words and exit code it takes, so the CLI catches it like any other error."""

    def __init__(self, report: RunReport, error: Error) -> None:
        super().__init__(error.message, expected=error.expected, found=error.found, fix=error.fix,
                         facts=error.facts)
        self.report = report
        self.error = error
        self.exit_code = error.exit_code
        self.kind = error.kind

    def to_dict(self) -> dict[str, Any]:
        return {**self.error.to_dict(),
                "steps": {name: step.to_dict() for name, step in self.report.steps.items()}}
