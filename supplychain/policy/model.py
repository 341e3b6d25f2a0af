"""The policy model: frozen, composable rules that say what may ship.

A `Policy` is built by `supplychain.policy.loader` from a YAML file. Its parts:

- `identities`: who may sign. An `AnyOf` of `KeylessIdentity` (OIDC issuer + subject, exact or
  a regex matched in full, + GitHub workflow claims) and `KeyIdentity` (a public key).
- `requirements`: an `AllOf` of rules evaluated against verified evidence (signatures,
  attestations with conditions, base images, platforms).

Like sigstore-python's policies, an empty `AllOf`/`AnyOf` is an error, never "trivially true",
and anything that weakens verification is named `Unsafe...`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from supplychain.attest import vocabulary as v
from supplychain.errors import PolicyError
from supplychain.policy.regex import compile_re2, fullmatch

API_VERSION = "sccheck.dev/v1"
KIND = "Policy"

# The predicate types the rules look for (the URIs are spelled in the evidence vocabulary).
PREDICATE_SIGNATURE = v.COSIGN_SIGN
PREDICATE_SLSA = v.SLSA_PROVENANCE
PREDICATE_SBOM = v.CYCLONEDX_BOM
PREDICATE_VULN = v.COSIGN_VULN
PREDICATE_TEST = v.TEST_RESULT
PREDICATE_HARDEN = v.SCCHECK_HARDEN
PREDICATE_VSA = v.SLSA_VSA
PREDICATE_LINK = v.INTOTO_LINK

SIGNATURE_FORMATS = ("bundle", "legacy")
SEVERITIES = v.SEVERITIES
Severity = Literal["negligible", "low", "medium", "high", "critical"]
severity_rank = v.severity_rank


@dataclass(frozen=True)
class Pattern:
    """A string matched exactly, or an RE2 regex matched in FULL: an unanchored-looking pattern
    such as `https://github.com/org/.*` still has to cover the whole value. RE2 is checked when
    the pattern is made (`supplychain.policy.regex`), so the cluster engines accept what loads."""

    value: str
    regex: bool = False

    def __post_init__(self) -> None:
        if self.regex:
            compile_re2(self.value)

    def matches(self, text: str | None) -> bool:
        if text is None:
            return False
        if self.regex:
            return fullmatch(self.value, text)
        return text == self.value

    def describe(self) -> str:
        return f"/{self.value}/ (matched in full)" if self.regex else repr(self.value)


@dataclass(frozen=True)
class GitHubClaims:
    """Claims that Fulcio copies from a GitHub Actions token into certificate extensions."""

    repository: Pattern | None = None       # "org/repo"
    workflow_ref: Pattern | None = None     # "org/repo/.github/workflows/release.yml@refs/heads/main"
    ref: Pattern | None = None              # "refs/heads/main", "refs/tags/v1.2.3"
    trigger: Pattern | None = None          # "push", "workflow_dispatch", ...

    def items(self) -> list[tuple[str, Pattern]]:
        pairs = [("repository", self.repository), ("workflowRef", self.workflow_ref),
                 ("ref", self.ref), ("trigger", self.trigger)]
        return [(k, v) for k, v in pairs if v is not None]


@dataclass(frozen=True)
class KeylessIdentity:
    issuer: str
    subject: Pattern
    github: GitHubClaims | None = None

    def describe(self) -> str:
        text = f"subject {self.subject.describe()} from issuer {self.issuer!r}"
        if self.github:
            text += " with " + ", ".join(f"{k}={p.describe()}" for k, p in self.github.items())
        return text


@dataclass(frozen=True)
class KeyIdentity:
    """A public key (PEM). Signatures by this key still need a transparency-log entry unless the
    policy says `UnsafeNoTransparencyLog`."""

    public_key_pem: str
    name: str = "key"
    unsafe_no_transparency_log: bool = False

    def describe(self) -> str:
        return f"public key {self.name!r}"


Identity = KeylessIdentity | KeyIdentity


@dataclass(frozen=True)
class AnyOf:
    """Logical OR of identities. Empty is an error."""

    children: tuple[Identity, ...]

    def __post_init__(self) -> None:
        if not self.children:
            raise PolicyError("AnyOf needs at least one alternative", fix="list at least one identity")


# --- requirements --------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureRule:
    """The image (and, for an index, every platform manifest) carries a verified signature."""

    every_platform: bool = True
    name: str = "signature"


@dataclass(frozen=True)
class ProvenanceRule:
    builder_id: Pattern | None = None
    source_repository: Pattern | None = None
    commit_present: bool = True
    build_type: Pattern | None = None
    name: str = "provenance"
    predicate_type: str = PREDICATE_SLSA


@dataclass(frozen=True)
class SbomRule:
    every_platform: bool = True
    name: str = "sbom"
    predicate_type: str = PREDICATE_SBOM


@dataclass(frozen=True)
class AllowedVulnerability:
    id: str
    reason: str
    expires: dt.date


@dataclass(frozen=True)
class VulnerabilityRule:
    max_severity: Severity = "medium"      # no finding ABOVE this severity
    allow: tuple[AllowedVulnerability, ...] = ()
    max_age: dt.timedelta | None = None
    name: str = "vulnerabilities"
    predicate_type: str = PREDICATE_VULN


@dataclass(frozen=True)
class TestResultRule:
    all_passed: bool = True
    name: str = "tests"
    predicate_type: str = PREDICATE_TEST


@dataclass(frozen=True)
class HardenRule:
    clean: bool = True
    name: str = "harden"
    predicate_type: str = PREDICATE_HARDEN


@dataclass(frozen=True)
class BaseImage:
    digest: str | None = None
    repository: str | None = None

    def describe(self) -> str:
        return f"digest {self.digest}" if self.digest else f"repository {self.repository}"


@dataclass(frozen=True)
class BaseImageRule:
    allowed: tuple[BaseImage, ...]
    name: str = "base-image"

    def __post_init__(self) -> None:
        if not self.allowed:
            raise PolicyError("baseImages lists no allowed base image",
                              fix="list at least one digest or repository, or drop baseImages")


@dataclass(frozen=True)
class PlatformsRule:
    required: tuple[str, ...]
    name: str = "platforms"


@dataclass(frozen=True)
class ChainStep:
    """One step of the chain layout: its signed link must exist, signed by one of `signers`
    (empty: any identity of the policy), and its artifacts must pass in-toto's artifact rules
    (`"MATCH src/* WITH MATERIALS FROM check"`, ...). The step named `image` has no link: its
    products are the facts of the image being judged."""

    name: str
    signers: tuple[Identity, ...] = ()
    materials: tuple[str, ...] = ()
    products: tuple[str, ...] = ()


IMAGE_STEP = "image"


@dataclass(frozen=True)
class ChainLayout:
    """The policy's `steps:` section: an in-toto layout in the policy's own words."""

    steps: tuple[ChainStep, ...]
    image: ChainStep | None = None
    name: str = "steps"
    predicate_type: str = PREDICATE_LINK

    @property
    def reads_binaries(self) -> bool:
        """Whether the image's own artifacts include its binaries (read from its top layer)."""
        return self.image is not None and any("bin/" in r for r in self.image.materials + self.image.products)

    def __post_init__(self) -> None:
        if not self.steps:
            raise PolicyError("steps names no step whose link must exist",
                              fix="list at least one step (check, build, sbom, harden), or drop steps")


AttestationRule = ProvenanceRule | SbomRule | VulnerabilityRule | TestResultRule | HardenRule
Rule = SignatureRule | AttestationRule | BaseImageRule | PlatformsRule


@dataclass(frozen=True)
class AllOf:
    """Logical AND of rules. Empty is an error: a policy that requires nothing is refused."""

    children: tuple[Rule, ...]

    def __post_init__(self) -> None:
        if not self.children:
            raise PolicyError("AllOf needs at least one rule", fix="require at least a signature")


@dataclass(frozen=True)
class Policy:
    name: str
    identities: AnyOf
    requirements: AllOf
    description: str = ""
    max_bundles: int = 64
    max_bundle_bytes: int = 1 << 20
    # where evidence may come from: "bundle" (referrers) and/or "legacy" (.sig/.att tags)
    signature_formats: tuple[str, ...] = SIGNATURE_FORMATS
    max_trusted_root_age: dt.timedelta | None = None   # limits.maxTrustedRootAge: a warning, not a rule
    steps: ChainLayout | None = None            # the chain layout (policy `steps:`), if any
    source_digest: str = ""                     # sha256 of the policy file's bytes
    raw: bytes = field(default=b"", repr=False, compare=False)

    @property
    def attestation_rules(self) -> list[AttestationRule]:
        return [r for r in self.requirements.children
                if isinstance(r, ProvenanceRule | SbomRule | VulnerabilityRule | TestResultRule | HardenRule)]

    def rule(self, kind: type[Rule]) -> Rule | None:
        for r in self.requirements.children:
            if isinstance(r, kind):
                return r
        return None

    def required_predicate_types(self) -> list[str]:
        types = [PREDICATE_SIGNATURE] if self.rule(SignatureRule) else []
        types += [r.predicate_type for r in self.attestation_rules]
        return types + ([self.steps.predicate_type] if self.steps else [])
