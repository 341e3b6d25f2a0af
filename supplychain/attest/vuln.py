"""The vulnerability scan record (cosign's `vuln/v1` predicate, COSIGN_VULN): builder and reader.

sccheck writes govulncheck's findings into the free-form `scanner.result`:

    scanner.result.format            VULN_RESULT_FORMAT
    scanner.result.vulnerabilities[] {id, aliases, summary, module, version, fixedVersion,
                                      scanLevel, reachable, symbols, trace, severity,
                                      location, url}
    metadata.scanFinishedOn          when the scan finished (the freshness a policy judges)

The reader reads exactly those fields (FINDINGS_PATH, and `id`/`severity`/`aliases`/`module`
of each finding), so the policy, the exports and the producer cannot disagree about where the
findings are. Field by field in docs/check.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from supplychain.analyzers.model import CheckResult
from supplychain.attest.predicates import lookup, now_text, parse_time

VULN_RESULT_FORMAT = "https://sccheck.dev/check/govulncheck-result/v1"
# Where the findings list is, and the fields of each finding the reader uses.
FINDINGS_PATH = ("scanner", "result", "vulnerabilities")
FINDING_ID, FINDING_SEVERITY, FINDING_ALIASES, FINDING_MODULE = "id", "severity", "aliases", "module"
SCAN_TIMES = (("metadata", "scanFinishedOn"), ("metadata", "scanStartedOn"))   # the first one set


def vuln_predicate(result: CheckResult) -> dict[str, Any] | None:
    """The cosign vuln/v1 predicate, or None when the vulnerability scan did not run."""
    run = result.run("vuln")
    if run is None or run.status != "ok" or run.output is None:
        return None
    facts = run.output.facts
    vulns = []
    for f in run.findings:
        v = f.vulnerability
        if v is None:
            continue
        vulns.append({"id": v.id, "aliases": list(v.aliases), "summary": v.summary,
                      "module": v.module, "version": v.version, "fixedVersion": v.fixed_version,
                      "scanLevel": v.scan_level, "reachable": v.reachable,
                      "symbols": list(v.symbols), "trace": list(v.trace),
                      "severity": f.severity.value, "location": str(f.location or ""),
                      "url": v.url, "fingerprint": f.fingerprint,
                      "suppressed": f.suppressed.to_dict() if f.suppressed else None})
    version = run.output.version
    return cosign_vuln_predicate(
        f"pkg:golang/golang.org/x/vuln@{version}" if version else "pkg:golang/golang.org/x/vuln", version,
        {"format": VULN_RESULT_FORMAT, "mode": result.mode, "module": result.module,
         "goVersion": str(facts.get("go_version", "")), "scanLevel": str(facts.get("scan_level", "")),
         "modules": list(facts.get("modules", [])), "vulnerabilities": vulns,
         "summary": {"total": len(vulns), "reachable": sum(1 for v in vulns if v["reachable"]),
                     "unreachable": sum(1 for v in vulns if not v["reachable"]),
                     "suppressed": sum(1 for v in vulns if v["suppressed"])}},
        db_uri=str(facts.get("db", "")), db_version=str(facts.get("db_last_modified", "")),
        parameters=list(run.output.command[1:]), started=result.started, finished=result.finished)


def cosign_vuln_predicate(scanner_uri: str, scanner_version: str, result: dict[str, Any], *,
                          db_uri: str = "", db_version: str = "", parameters: list[str] | None = None,
                          started: str | None = None, finished: str | None = None) -> dict[str, Any]:
    """cosign's vuln/v1 envelope around a scanner's result (`scanner.result`); the reader finds
    the findings at FINDINGS_PATH inside it. Times default to now."""
    now = now_text()
    return {
        "invocation": {"parameters": parameters or [], "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": scanner_uri, "version": scanner_version,
                    "db": {"uri": db_uri, "version": db_version}, "result": result},
        "metadata": {"scanStartedOn": started or now, "scanFinishedOn": finished or now},
    }


# --- reading ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class VulnFinding:
    id: str
    severity: str
    aliases: tuple[str, ...] = ()
    package: str = ""


@dataclass(frozen=True)
class VulnReport:
    findings: tuple[VulnFinding, ...]
    scanned_at: dt.datetime | None


def _finding(raw: Any) -> VulnFinding:
    if not isinstance(raw, dict):
        raise ValueError(f"a finding is not an object: {str(raw)[:80]}")
    vid = raw.get(FINDING_ID)
    if not isinstance(vid, str) or not vid:
        raise ValueError(f"a finding has no id: {str(raw)[:120]}")
    sev = raw.get(FINDING_SEVERITY) or "unknown"          # none given: ranks as the worst
    aliases: list[Any] = raw[FINDING_ALIASES] if isinstance(raw.get(FINDING_ALIASES), list) else []
    return VulnFinding(vid, str(sev).lower(), tuple(str(a) for a in aliases),
                       str(raw.get(FINDING_MODULE) or ""))


def vuln_report(predicate: dict[str, Any]) -> VulnReport:
    findings = lookup(predicate, *FINDINGS_PATH)
    if not isinstance(findings, list):
        raise ValueError(f"{'.'.join(FINDINGS_PATH)} is not a list of findings")
    finished, started = SCAN_TIMES
    when = parse_time(lookup(predicate, *finished)) or parse_time(lookup(predicate, *started))
    return VulnReport(tuple(_finding(f) for f in findings), when)
