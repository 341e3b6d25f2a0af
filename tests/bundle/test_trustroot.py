"""Trusted-root freshness on crafted roots (our own logic; no services): what expired, what
expires within 30 days, and a root older than the policy's limits.maxTrustedRootAge."""

from __future__ import annotations

import datetime as dt
import json

from supplychain.policy import parse_policy
from supplychain.policy.trustroot import freshness_warnings, parse_trust_bytes

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _root(tsa_end: str, start: str = "2026-06-01T00:00:00Z") -> bytes:
    window = {"start": start}
    return json.dumps({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "certificateAuthorities": [{"uri": "https://fulcio.example", "certChain": {"certificates": []},
                                    "validFor": {**window, "end": "2030-01-01T00:00:00Z"}}],
        "tlogs": [{"baseUrl": "https://rekor.example", "publicKey": {"validFor": window}}],
        "ctlogs": [{"baseUrl": "https://ctlog.example", "publicKey": {"validFor": window}}],
        "timestampAuthorities": [{"uri": "https://tsa.example", "certChain": {"certificates": []},
                                  "validFor": {**window, "end": tsa_end}}],
    }).encode()


def test_an_expired_tsa_warns_and_a_fresh_root_does_not() -> None:
    root = parse_trust_bytes(_root("2026-11-01T00:00:00Z"), "root.json")
    assert [e.kind for e in root.entries] == ["certificate authority", "transparency log", "CT log",
                                              "timestamp authority"]
    assert freshness_warnings(root.entries, NOW) == [
        "the timestamp authority https://tsa.example expired on 2026-11-01: signatures made after that "
        "cannot verify; refresh the trusted root"]
    fresh = parse_trust_bytes(_root("2028-01-01T00:00:00Z"), "root.json")
    assert freshness_warnings(fresh.entries, NOW) == []


def test_a_key_expiring_within_30_days_warns() -> None:
    soon = parse_trust_bytes(_root("2026-12-20T00:00:00Z"), "root.json")
    (warning,) = freshness_warnings(soon.entries, NOW)
    assert "expires on 2026-12-20 (in 19 days)" in warning


def test_the_policy_limit_on_the_roots_age() -> None:
    policy = parse_policy(b"""apiVersion: sccheck.dev/v1
kind: Policy
name: p
identities: [{issuer: https://issuer.example, subject: me}]
signature: {}
limits: {maxTrustedRootAge: 90d}
""")
    assert policy.max_trusted_root_age == dt.timedelta(days=90)
    old = parse_trust_bytes(_root("2028-01-01T00:00:00Z", start="2026-01-01T00:00:00Z"), "root.json")
    (warning,) = freshness_warnings(old.entries, NOW, policy.max_trusted_root_age)
    assert "dates from 2026-01-01, older than the policy's limit of 90 days" in warning
    recent = parse_trust_bytes(_root("2028-01-01T00:00:00Z", start="2026-11-01T00:00:00Z"), "root.json")
    assert freshness_warnings(recent.entries, NOW, policy.max_trusted_root_age) == []
