"""THE evidence vocabulary: every in-toto constant and predicate type URI sccheck writes or reads.

This is the only module that spells these strings; everything else imports the names. A test
(`tests/test_vocabulary.py`) fails when a URI listed here appears in any other module.

Each predicate sccheck knows is one `PredicateKind` in `KINDS`: the short name `--type` takes,
the URI, the name `cosign verify-attestation --type` uses for it, and the fields a predicate of
that kind must have before sccheck signs it. Its builder and its reader live side by side in one
module of `supplychain.attest` (see docs/signing.md, "Adding a predicate type").
"""

from __future__ import annotations

from dataclasses import dataclass

# --- in-toto / DSSE ----------------------------------------------------------------------------
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"    # read (older producers), never written
STATEMENT_TYPES = (STATEMENT_V1, STATEMENT_V01)
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"   # DSSE payloadType of every statement
# Annotations of the referrer manifest that stores a Sigstore bundle (cosign v3's layout).
BUNDLE_CONTENT_ANNOTATION = "dev.sigstore.bundle.content"
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"

# --- predicate types ---------------------------------------------------------------------------
# What cosign v3 signs for `cosign sign`; `cosign verify` expects it (and ignores its body).
COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
SLSA_VSA = "https://slsa.dev/verification_summary/v1"
CYCLONEDX_BOM = "https://cyclonedx.org/bom"
COSIGN_VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
SCCHECK_HARDEN = "https://sccheck.dev/attestation/harden/v1"
OPENVEX = "https://openvex.dev/ns/v0.2.0"
INTOTO_LINK = "https://in-toto.io/attestation/link/v0.3"


@dataclass(frozen=True)
class PredicateKind:
    short: str                      # `sccheck attest --type SHORT`
    uri: str                        # the statement's predicateType
    title: str                      # for messages: "the SLSA provenance v1 predicate lacks ..."
    cosign_type: str | None = None  # `cosign verify-attestation --type NAME`, where cosign has one
    required: tuple[str, ...] = ()  # dotted paths a predicate must have before it is signed


KINDS: tuple[PredicateKind, ...] = (
    PredicateKind("slsa", SLSA_PROVENANCE, "SLSA provenance v1", "slsaprovenance1",
                  ("buildDefinition.buildType", "buildDefinition.externalParameters",
                   "runDetails.builder.id")),
    PredicateKind("sbom", CYCLONEDX_BOM, "CycloneDX SBOM", "cyclonedx", ("bomFormat",)),
    PredicateKind("vuln", COSIGN_VULN, "vulnerability", "vuln", ("scanner.uri", "scanner.result")),
    PredicateKind("test", TEST_RESULT, "test result", None, ("result",)),
    PredicateKind("harden", SCCHECK_HARDEN, "hardening", None, ("passed", "threshold", "findings")),
    # cosign's `--type openvex` means https://openvex.dev/ns (no version): pass the full URI
    PredicateKind("openvex", OPENVEX, "OpenVEX", OPENVEX, ("statements",)),
    PredicateKind("vsa", SLSA_VSA, "SLSA verification summary", None,
                  ("verifier.id", "verificationResult", "resourceUri")),
    PredicateKind("link", INTOTO_LINK, "in-toto link", None, ("name",)),
)
BY_SHORT = {k.short: k for k in KINDS}
BY_URI = {k.uri: k for k in KINDS}
PREDICATE_TYPES = {k.short: k.uri for k in KINDS}

# --- severities --------------------------------------------------------------------------------
# The one scale the readers rank findings on (vulnerabilities, hardening): fail closed, a name
# nobody knows ranks as the worst.
SEVERITIES = ("negligible", "low", "medium", "high", "critical")
SEVERITY_ALIASES = {"moderate": "medium", "important": "high", "unknown": "critical",
                     "none": "negligible", "info": "negligible", "informational": "negligible"}


def severity_rank(name: str) -> int:
    """Rank of a severity name; unknown names rank as 'critical' (fail closed)."""
    low = name.strip().lower()
    low = SEVERITY_ALIASES.get(low, low)
    return SEVERITIES.index(low) if low in SEVERITIES else len(SEVERITIES) - 1
