"""The predicate fields an export reads, and the tables its conditions use, in one place.

They are taken from the evidence vocabulary: each predicate's module in `supplychain.attest`
holds its builder and the reader `verify` uses, and names the fields that reader reads; an
export reads nothing else, so a field a predicate does not have fails closed in the cluster as
it does in `verify`.
"""

from __future__ import annotations

import datetime as dt

from supplychain.attest import harden, slsa, testresult, vuln
from supplychain.attest.vocabulary import SEVERITY_ALIASES
from supplychain.policy import model as m

# SLSA provenance v1
BUILDER_ID = slsa.BUILDER_ID
BUILD_TYPE = slsa.BUILD_TYPE
RESOLVED_DEPENDENCIES = slsa.RESOLVED_DEPENDENCIES
COMMIT_KEYS = slsa.COMMIT_KEYS                       # first non-empty one is the commit
COMMIT_RE2 = slsa.COMMIT_RE

# cosign vulnerability predicate, as `sccheck check` writes it
VULNERABILITIES = vuln.FINDINGS_PATH
SCAN_TIMES = vuln.SCAN_TIMES

# in-toto test-result v0.1
TEST_RESULT = testresult.RESULT
TEST_PASSING = testresult.PASSING
FAILED_TESTS = testresult.FAILED_TESTS

# sccheck hardening report
HARDEN_PASSED = harden.PASSED
HARDEN_FINDINGS = harden.FINDINGS
HARDEN_THRESHOLD = harden.THRESHOLD

# Severity names (and the aliases `severity_rank` folds) with their rank; others rank critical.
SEVERITY_RANKS = {name: m.severity_rank(name) for name in (*m.SEVERITIES, *SEVERITY_ALIASES)}
UNKNOWN_RANK = len(m.SEVERITIES) - 1


def severities_at_most(limit: str) -> list[str]:
    """Every severity spelling whose rank is at most `limit`'s (a finding with any other is above)."""
    top = m.severity_rank(limit)
    return sorted(n for n, r in SEVERITY_RANKS.items() if r <= top)


def allow_until(entry: m.AllowedVulnerability) -> str:
    """The first instant (UTC, RFC 3339) at which an allowlist entry no longer holds: it holds
    through its `expires` day, as `verify` reads it."""
    end = dt.datetime.combine(entry.expires + dt.timedelta(days=1), dt.time(), dt.UTC)
    return end.strftime("%Y-%m-%dT%H:%M:%SZ")
