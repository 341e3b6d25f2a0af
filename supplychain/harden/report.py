"""The result of `sccheck harden check`: findings, the pass/fail verdict, renderings.

A `HardenReport` and its human rendering (a table grouped by severity). Its JSON is the
hardening predicate, built (and read back) by `supplychain.attest.harden`; docs/harden.md
documents every field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from supplychain.harden.rules import RULES, SEVERITIES, severity_rank

RULESET = "sccheck-harden/1"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    evidence: str
    path: str | None = None          # a file in the image, or a config key (config.Env[2])
    platform: str | None = None      # os/arch for multi-platform images
    layer: int | None = None         # index of the layer the evidence is in

    @property
    def title(self) -> str:
        return RULES[self.rule].title

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "title": self.title,
                "message": self.message, "evidence": self.evidence, "path": self.path,
                "platform": self.platform, "layer": self.layer}


@dataclass(frozen=True)
class PlatformStats:
    platform: str | None
    digest: str
    layers: int
    compressed_size: int     # sum of the layer blobs' sizes (what a pull downloads)
    files: int               # entries of the merged file system (files, dirs, links)
    size: int                # sum of the regular files' sizes in the merged file system

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "digest": self.digest, "layers": self.layers,
                "compressedSize": self.compressed_size, "files": self.files, "size": self.size}


@dataclass(frozen=True)
class HardenReport:
    reference: str
    digest: str
    threshold: str
    findings: tuple[Finding, ...]
    platforms: tuple[PlatformStats, ...]
    suppressed: int = 0
    scanned_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    profiles: dict[str, Any] | None = None      # harden.profile.profile_evidence, when given

    @property
    def failing(self) -> tuple[Finding, ...]:
        limit = severity_rank(self.threshold)
        return tuple(f for f in self.findings if severity_rank(f.severity) >= limit)

    @property
    def passed(self) -> bool:
        return not self.failing

    def summary(self) -> dict[str, Any]:
        by_severity = Counter(f.severity for f in self.findings)
        by_rule = Counter(f.rule for f in self.findings)
        return {
            "total": len(self.findings),
            "failing": len(self.failing),
            "suppressed": self.suppressed,
            "bySeverity": {sev: by_severity.get(sev, 0) for sev in SEVERITIES},
            "byRule": dict(sorted(by_rule.items())),
            "platforms": [p.to_dict() for p in self.platforms],
        }


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def render_human(report: HardenReport) -> str:
    lines = [f"image {report.reference}", f"  digest {report.digest}"]
    for stats in report.platforms:
        lines.append(f"  {stats.platform or 'image'}: {stats.layers} layers, "
                     f"{_size(stats.compressed_size)} compressed, {_size(stats.size)} in "
                     f"{stats.files} entries")
    if not report.findings:
        lines.append("no findings")
    for severity in reversed(SEVERITIES):
        group = [f for f in report.findings if f.severity == severity]
        if not group:
            continue
        lines.append("")
        lines.append(f"{severity.upper()} ({len(group)})")
        for f in group:
            where = f" [{f.platform}]" if f.platform and len(report.platforms) > 1 else ""
            lines.append(f"  {f.rule}  {f.message}{where}")
            lines.append(f"          evidence: {f.evidence}")
            lines.append(f"          fix:      {RULES[f.rule].fix}")
    counts = ", ".join(f"{report.summary()['bySeverity'][s]} {s}" for s in reversed(SEVERITIES))
    lines.append("")
    verdict = "PASSED" if report.passed else "FAILED"
    lines.append(f"{verdict}: {len(report.failing)} finding(s) at or above {report.threshold} "
                 f"({counts}; {report.suppressed} allowlisted)")
    return "\n".join(lines)
