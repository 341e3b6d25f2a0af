"""What `build-and-sign` tells its caller: the run's result, a summary table, the JSON report,
and GitHub Actions outputs (`$GITHUB_OUTPUT`) and job summary (`$GITHUB_STEP_SUMMARY`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supplychain.errors import Error
from supplychain.fsutil import atomic_write
from supplychain.pipeline.steps import RunFailed, RunReport


@dataclass(frozen=True)
class PipelineResult:
    """The steps' report; `error` is the first step's error when the chain stopped."""

    report: RunReport
    error: Error | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.report.ok

    def _value(self, name: str) -> Any:
        step = self.report.steps.get(name)
        return step.value if step is not None and step.status == "ok" else None

    @property
    def reference(self) -> str | None:
        """The pushed image by digest, once `push` has finished."""
        push = self._value("push")
        return push.image.reference if push is not None else None

    @property
    def digest(self) -> str | None:
        build = self._value("build")
        return build.result.digest if build is not None else None


class PipelineFailed(RunFailed):
    """The chain stopped at a step: the partial result rides along, so `--json` still gives the
    whole report (also saved at `saved`), and the diagnostics show the table of what ran."""

    def __init__(self, result: PipelineResult, saved: Path | None = None) -> None:
        assert result.error is not None
        super().__init__(result.report, result.error)
        self.result = result
        self.saved = saved
        self.document: dict[str, Any] = json.loads(json.dumps(to_dict(result), default=str))

    def to_dict(self) -> dict[str, Any]:
        return self.document

    def diagnostics(self) -> str:
        saved = f"\nfull report: {self.saved}" if self.saved else ""
        return summary_table(self.result) + saved + "\n" + self.error.diagnostics()


def bundle_refs(result: PipelineResult) -> list[str]:
    """Every referrer manifest written next to the pushed image, signature first."""
    refs: list[str] = []
    sign = result._value("sign")
    if sign is not None:
        refs += list(sign.signed.referrers)
    attest = result._value("attest")
    if attest is not None:
        for item in attest.attestations:
            refs += list(item.signed.referrers)
    return list(dict.fromkeys(refs))


def to_dict(result: PipelineResult) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for name, step in result.report.steps.items():
        entry = step.to_dict()
        if step.status == "ok" and step.value is not None:
            entry["summary"] = step.value.summary
            entry["result"] = step.value.to_dict()
        steps[name] = entry
    check = result._value("check")
    out: dict[str, Any] = {"ok": result.ok, "reference": result.reference,
                           "digest": result.digest, "bundle_refs": bundle_refs(result),
                           "findings": len(check.result.findings) if check is not None else None,
                           "seconds": round(result.report.seconds, 3), "steps": steps}
    if result.error is not None:
        out.update(result.error.to_dict())
    return out


def _key_result(name: str, step: Any) -> str:
    if step.status == "failed" and step.error is not None:
        return str(step.error.message)
    if step.status == "ok" and step.value is not None:
        return str(step.value.summary)
    return ""


def summary_table(result: PipelineResult) -> str:
    rows = [("step", "status", "time", "result")]
    for name, step in result.report.steps.items():
        rows.append((name, step.status, f"{step.seconds:.1f}s" if step.status in ("ok", "failed") else "-",
                     _key_result(name, step)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    pushed = f"; pushed {result.reference}" if result.reference else ""
    lines.append(f"total {result.report.seconds:.1f}s{pushed}")
    return "\n".join(lines)


def markdown_summary(result: PipelineResult) -> str:
    verdict = "passed" if result.ok else "FAILED"
    lines = [f"### sccheck build-and-sign: {verdict}", ""]
    if result.reference:
        lines += [f"Image: `{result.reference}`", ""]
    lines += ["| step | status | time | result |", "|---|---|---|---|"]
    for name, step in result.report.steps.items():
        text = _key_result(name, step).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {name} | {step.status} | {step.seconds:.1f}s | {text} |")
    refs = bundle_refs(result)
    if refs:
        lines += ["", f"{len(refs)} signature/attestation referrer(s):", ""]
        lines += [f"- `{r}`" for r in refs]
    return "\n".join(lines) + "\n"


def report_path(explicit: str | None = None) -> Path:
    """Where the full JSON report of a run goes: `explicit`, else a new file under the temporary
    directory (`$TMPDIR/sccheck/build-and-sign-<UTC time>-<pid>.json`)."""
    if explicit:
        return Path(explicit)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(tempfile.gettempdir()) / "sccheck" / f"build-and-sign-{stamp}-{os.getpid()}.json"


def write_report(doc: Mapping[str, Any], path: Path) -> Path:
    """The whole report, as `--json` prints it, written at once (never half a file)."""
    atomic_write(path, json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    return path


def _append(path: str, text: str) -> None:
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(text)


def write_github(result: PipelineResult, env: Mapping[str, str] | None = None) -> bool:
    """Append outputs and the job summary when running in GitHub Actions; True if written."""
    env = os.environ if env is None else env
    wrote = False
    out = env.get("GITHUB_OUTPUT")
    if out:
        lines = []
        if result.digest and result.reference:
            lines += [f"digest={result.digest}", f"reference={result.reference}"]
        lines.append(f"bundle-refs={json.dumps(bundle_refs(result))}")
        _append(out, "\n".join(lines) + "\n")
        wrote = True
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        _append(summary, markdown_summary(result))
        wrote = True
    return wrote
