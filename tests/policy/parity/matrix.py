"""The parity matrix's images: one multi-platform index per row in a real registry, signed and
attested with the real dev stack, each wrong in one way (or not at all)."""

# ruff: noqa: E501
from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from supplychain.attest.vuln import cosign_vuln_predicate
from supplychain.policy import model as m
from supplychain.signing.api import attest_image, sign_image
from supplychain.stores import open_store
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry
from tests.policy.crafting import PROVENANCE, SBOM
from tests.signing.images import push_tiny_index

ALLOWED_ID = "GO-2026-1001"       # allowlisted until well after the test runs
EXPIRED_ID = "GO-2026-1002"       # its allowlist entry expired
ABOVE_ID = "GO-2026-1003"         # high, not allowlisted


def policy_text(stack: DevStack) -> str:
    """The matrix's policy: every rule the engines are asked to enforce."""
    return textwrap.dedent(f"""\
        apiVersion: sccheck.dev/v1
        kind: Policy
        name: parity
        identities:
          - issuer: '{stack.issuer}'
            subject: '{stack.identity}'
        signature: {{}}
        attestations:
          provenance:
            builderId: https://sccheck.dev/builder/v1
            buildType: {{regexp: 'https://sccheck\\.dev/build/v[0-9]+'}}
            commitPresent: true
          sbom: {{everyPlatform: true}}
          vulnerabilities:
            maxSeverity: medium
            maxAge: 7d
            allow:
              - {{id: {ALLOWED_ID}, reason: not reachable from the service, expires: "2099-12-31"}}
              - {{id: {EXPIRED_ID}, reason: was not reachable, expires: "2020-01-31"}}
        platforms: [linux/amd64, linux/arm64]
        """)


def _vulns(findings: list[dict[str, Any]], age: dt.timedelta = dt.timedelta(0)) -> dict[str, Any]:
    """The vulnerability predicate as `sccheck check` writes it (scanner.result.vulnerabilities)."""
    doc = cosign_vuln_predicate("pkg:golang/golang.org/x/vuln@v1.1.4", "v1.1.4",
                                {"format": "sccheck-govulncheck/v1", "vulnerabilities": findings})
    when = (dt.datetime.now(dt.UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["metadata"] = {"scanStartedOn": when, "scanFinishedOn": when}
    return doc


def _finding(vid: str, severity: str) -> dict[str, Any]:
    return {"id": vid, "aliases": [f"CVE-2026-{vid[-4:]}"], "module": "example.com/lib",
            "severity": severity, "reachable": True}


CLEAN = _vulns([_finding("GO-2026-0999", "low")])


@dataclass(frozen=True)
class Row:
    name: str
    what: str                       # how the image is wrong, in words
    reference: str                  # host/repo@sha256:... of the index
    children: tuple[str, ...]       # the platform digests


@dataclass(frozen=True)
class Recipe:
    name: str
    what: str
    sign: bool = True
    token: Callable[[DevStack], str] | None = None       # who signs (default: the allowed identity)
    provenance: bool = True
    sbom_platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
    vulns: Callable[[], dict[str, Any]] = lambda: CLEAN


RECIPES = (
    Recipe("good", "signed and attested as the policy asks"),
    Recipe("unsigned", "no signature and no attestation at all", sign=False, provenance=False,
           sbom_platforms=(), vulns=lambda: {}),
    Recipe("wrong-identity", "everything signed by another e-mail of the same issuer",
           token=lambda s: s.mint_token(email="intruder@sccheck.local")),
    Recipe("wrong-issuer", "everything signed through another OIDC issuer (the GitHub-shaped one)",
           token=lambda s: s.mint_token(github=True)),
    Recipe("missing-provenance", "no SLSA provenance", provenance=False),
    Recipe("sbom-missing-on-arm64", "the SBOM covers linux/amd64 only", sbom_platforms=("linux/amd64",)),
    Recipe("vuln-above-threshold", f"a reachable high vulnerability ({ABOVE_ID}), not allowlisted",
           vulns=lambda: _vulns([_finding(ABOVE_ID, "HIGH")])),
    Recipe("vuln-allowlisted", f"a high vulnerability ({ALLOWED_ID}) allowlisted until 2099",
           vulns=lambda: _vulns([_finding(ALLOWED_ID, "high")])),
    Recipe("allowlist-expired", f"a high vulnerability ({EXPIRED_ID}) whose allowlist entry expired",
           vulns=lambda: _vulns([_finding(EXPIRED_ID, "high")])),
    Recipe("stale-scan", "a clean scan finished 30 days ago (maxAge 7d)",
           vulns=lambda: _vulns([], dt.timedelta(days=30))),
)


def build_row(recipe: Recipe, stack: DevStack, registry: Registry) -> Row:
    repo = registry.ref(f"parity/{recipe.name}")
    store = open_store(repo)
    index, children = push_tiny_index(store, "v1", text=f"parity-{recipe.name}")
    ref = f"{repo}@{index.digest}"
    trust = str(stack.trust_config)

    def token() -> str:
        return recipe.token(stack) if recipe.token else stack.mint_token()

    if recipe.sign:
        sign_image(ref, trust_config=trust, identity_token=token())
    if recipe.provenance:
        attest_image(ref, m.PREDICATE_SLSA, PROVENANCE, trust_config=trust, identity_token=token())
    for platform in recipe.sbom_platforms:
        attest_image(ref, m.PREDICATE_SBOM, SBOM, platform=platform, trust_config=trust, identity_token=token())
    vulns = recipe.vulns()
    if vulns:
        attest_image(ref, m.PREDICATE_VULN, vulns, trust_config=trust, identity_token=token())
    return Row(recipe.name, recipe.what, ref, tuple(c.digest for c in children))
