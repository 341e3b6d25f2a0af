"""What `build-and-sign` tells its caller: a summary table, the JSON report, and GitHub Actions
outputs (`$GITHUB_OUTPUT`) and job summary (`$GITHUB_STEP_SUMMARY`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from supplychain.errors import Error
from supplychain.fsutil import atomic_write
from supplychain.pipeline.run import PipelineResult


def _public(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _public(v) for k, v in value.items() if not str(k).startswith("_") and k != "summary"}
    if isinstance(value, list | tuple):
        return [_public(v) for v in value]
    return value


def bundle_refs(result: PipelineResult) -> list[str]:
    """Every referrer manifest written next to the pushed image, signature first."""
    refs: list[str] = []
    sign = result.report.steps.get("sign")
    if sign is not None and sign.status == "ok":
        refs += list(sign.value.get("referrers", []))
    attest = result.report.steps.get("attest")
    if attest is not None and attest.status == "ok":
        for item in attest.value.get("attestations", []):
            refs += list(item.get("referrers", []))
    return list(dict.fromkeys(refs))


def to_dict(result: PipelineResult, error: Error | None = None) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for name, step in result.report.steps.items():
        entry = step.to_dict()
        if step.status == "ok" and isinstance(step.value, Mapping):
            entry["summary"] = step.value.get("summary", "")
            entry["result"] = _public(step.value)
        steps[name] = entry
    check = result.report.steps.get("check")
    findings = check.value.get("findings") if check is not None and check.status == "ok" else None
    out: dict[str, Any] = {"ok": error is None and result.ok, "reference": result.reference,
                           "digest": result.digest, "bundle_refs": bundle_refs(result),
                           "findings": findings, "seconds": round(result.report.seconds, 3), "steps": steps}
    if error is not None:
        out.update(error.to_dict())
    return out


def _key_result(name: str, step: Any) -> str:
    if step.status == "failed" and step.error is not None:
        return str(step.error.message)
    if step.status == "ok" and isinstance(step.value, Mapping):
        return str(step.value.get("summary", ""))
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
