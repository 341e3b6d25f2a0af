"""`sccheck policy init`: a starter policy for one signer, valid by construction."""

from __future__ import annotations

import re

import yaml

from supplychain.errors import UsageError
from supplychain.policy.loader import parse_policy

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
_WORKFLOW = re.compile(r"^https://github\.com/([^/]+/[^/]+)/(\.github/workflows/[^@]+)@(refs/.+)$")


def _quote(text: str) -> str:
    return yaml.safe_dump(text, default_style="'").strip().removesuffix("\n...")


# The chain of build-and-sign (docs/policy.md, "The chain"): the files check read are the files
# build compiled; every layer of the running image is a product of build; the SBOM and the
# hardening report describe manifests build produced.
CHAIN_STARTER = """\
steps:
  check:
    materials: ["ALLOW src/*", "DISALLOW *"]
  build:
    materials: ["MATCH src/* WITH MATERIALS FROM check", "DISALLOW *"]
    products: ["ALLOW bin/*", "ALLOW image/*", "DISALLOW *"]
  sbom:
    materials: ["MATCH image/* WITH PRODUCTS FROM build", "DISALLOW *"]
  harden:
    materials: ["MATCH image/* WITH PRODUCTS FROM build", "DISALLOW *"]
  image:
    products: ["MATCH image/* WITH PRODUCTS FROM build", "MATCH bin/* WITH PRODUCTS FROM build",
               "DISALLOW *"]
"""


def init_policy(identity: str, issuer: str, name: str = "starter", chain: bool = False) -> str:
    """YAML text of a starter policy: this signer, a signature on every platform, provenance,
    SBOMs and a vulnerability scan; with `chain`, the in-toto chain of build-and-sign's steps.
    GitHub workflow identities also pin the repository."""
    if not identity.strip():
        raise UsageError("--identity is empty",
                         expected="an e-mail or a workflow URI from the signing certificate")
    if not re.match(r"^https?://", issuer):
        raise UsageError("--issuer must be the OIDC issuer URL", expected="https://...", found=issuer,
                         fix=f"e.g. --issuer {GITHUB_ISSUER}")
    lines = [
        f"# Starter policy for {identity} (issuer {issuer}), written by `sccheck policy init`.",
        "# Review it, then: sccheck verify IMAGE --policy THIS_FILE",
        "apiVersion: sccheck.dev/v1",
        "kind: Policy",
        f"name: {name}",
        "identities:",
        f"  - issuer: {_quote(issuer)}",
        f"    subject: {_quote(identity)}",
    ]
    found = _WORKFLOW.match(identity)
    if found and issuer == GITHUB_ISSUER:
        repo, _, ref = found.groups()
        lines += ["    github:", f"      repository: {_quote(repo)}", f"      ref: {_quote(ref)}"]
    lines += [
        "signature:",
        "  everyPlatform: true",
        "attestations:",
        "  provenance:",
        "    commitPresent: true",
        "  sbom:",
        "    everyPlatform: true",
        "  vulnerabilities:",
        "    maxSeverity: medium",
        "    maxAge: 7d",
    ]
    text = "\n".join(lines) + "\n" + (CHAIN_STARTER if chain else "")
    parse_policy(text.encode(), "the generated policy")  # valid by construction, checked anyway
    return text
