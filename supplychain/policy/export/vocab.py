"""The predicate fields an export reads, and the tables its conditions use, in one place.

They are the fields sccheck's producers write (`supplychain.attest`, `sccheck check`) and that
`supplychain.policy.predicates` reads; an export reads nothing else, so a field a predicate does
not have fails closed in the cluster as it does in `verify`.
"""

from __future__ import annotations

import datetime as dt

from supplychain.policy import model as m

# SLSA provenance v1
BUILDER_ID = ("runDetails", "builder", "id")
BUILD_TYPE = ("buildDefinition", "buildType")
RESOLVED_DEPENDENCIES = ("buildDefinition", "resolvedDependencies")
COMMIT_KEYS = ("gitCommit", "sha1")                  # first non-empty one is the commit
COMMIT_RE2 = "^[0-9a-f]{40}([0-9a-f]{24})?$"

# cosign vulnerability predicate, as `sccheck check` writes it
VULNERABILITIES = ("scanner", "result", "vulnerabilities")
SCAN_TIMES = (("metadata", "scanFinishedOn"), ("metadata", "scanStartedOn"))

# in-toto test-result v0.1
TEST_RESULT = ("result",)
TEST_PASSING = ("PASSED", "WARNED")
FAILED_TESTS = ("failedTests",)

# sccheck hardening report
HARDEN_PASSED = ("passed",)
HARDEN_FINDINGS = ("findings",)
HARDEN_THRESHOLD = ("threshold",)

# Severity names (and the aliases `severity_rank` folds) with their rank; others rank critical.
SEVERITY_ALIASES = {"moderate": "medium", "important": "high", "unknown": "critical",
                    "none": "negligible", "info": "negligible", "informational": "negligible"}
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
