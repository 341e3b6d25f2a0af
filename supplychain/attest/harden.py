"""The hardening report (SCCHECK_HARDEN, `sccheck harden check`): builder and reader.

    scanner {name, version, ruleset}, image {reference, digest}, scannedAt,
    passed, threshold, findings[] {rule, severity, title, message, evidence, path, platform,
    layer}, summary {total, failing, suppressed, bySeverity, byRule, platforms}

docs/harden.md documents every field.
"""

from __future__ import annotations

import json
from typing import Any

from supplychain import __version__
from supplychain.attest.predicates import lookup
from supplychain.attest.vocabulary import SCCHECK_HARDEN, severity_rank
from supplychain.fsutil import atomic_write
from supplychain.harden.report import RULESET, HardenReport


def harden_predicate(report: HardenReport) -> dict[str, Any]:
    return {
        "scanner": {"name": "sccheck", "version": __version__, "ruleset": RULESET},
        "image": {"reference": report.reference, "digest": report.digest},
        "scannedAt": report.scanned_at,
        "passed": report.passed,
        "threshold": report.threshold,
        "findings": [f.to_dict() for f in report.findings],
        "summary": report.summary(),
        **({} if report.profiles is None else {"profiles": report.profiles}),
    }


def harden_document(report: HardenReport) -> dict[str, Any]:
    """What `sccheck harden check --json` prints: the predicate, `ok` and its type."""
    return {"ok": report.passed, "predicateType": SCCHECK_HARDEN, **harden_predicate(report)}


def write_harden_predicate(report: HardenReport, path: str) -> None:
    """`--predicate-out`: the predicate for `sccheck attest --type harden`, written atomically."""
    text = json.dumps(harden_predicate(report), indent=2, sort_keys=True) + "\n"
    atomic_write(path, text, what="--predicate-out")


# --- reading ----------------------------------------------------------------------------------

# The fields the reader (and the cluster exports) read.
PASSED = ("passed",)
FINDINGS = ("findings",)
THRESHOLD = ("threshold",)


def harden_failures(predicate: dict[str, Any]) -> list[str]:
    out = []
    findings = lookup(predicate, *FINDINGS)
    threshold = lookup(predicate, *THRESHOLD)
    if not isinstance(findings, list) or not isinstance(threshold, str):
        return ["hardening report is unreadable (needs 'findings' list and 'threshold')"]
    limit = severity_rank(threshold)
    failing = [f for f in findings if not isinstance(f, dict)
               or severity_rank(str(f.get("severity", "unknown"))) >= limit]
    if lookup(predicate, *PASSED) is not True:
        out.append(f"hardening report says passed={lookup(predicate, *PASSED)!r}")
    for f in failing[:10]:
        if isinstance(f, dict):
            out.append(f"hardening finding {f.get('rule')} ({f.get('severity')}): {f.get('message')}")
        else:
            out.append("an unreadable hardening finding")
    return out
