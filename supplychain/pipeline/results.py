"""What each step of build-and-sign hands on: one frozen, typed result per step.

The image travels as a `Pinned` (a store and a digest in it), never as a string that each step
parses again. Every result has a one-line `summary` (the report table) and `to_dict()` (the
step's entry in the JSON report).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from supplychain.analyzers.model import CheckResult
from supplychain.build.model import BuildResult
from supplychain.copy import CopyResult
from supplychain.harden.profile import ProfileSet
from supplychain.harden.report import HardenReport
from supplychain.image.reference import ImageRef
from supplychain.image.store import ContentStore
from supplychain.pipeline.precheck import PrecheckReport
from supplychain.policy.evaluate import PolicyReport
from supplychain.promote import PromoteResult
from supplychain.sbom.generate import SbomDocument
from supplychain.signing.api import SignResult


@dataclass(frozen=True)
class Pinned:
    """An image by digest in a store: `ref` names it (`ref.digest` is set), `store` holds it."""

    ref: ImageRef
    store: ContentStore

    @property
    def digest(self) -> str:
        assert self.ref.digest is not None
        return self.ref.digest

    @property
    def reference(self) -> str:
        return self.ref.by_digest()


@dataclass(frozen=True)
class CheckOut:
    result: CheckResult

    @property
    def summary(self) -> str:
        return f"{len(self.result.findings)} finding(s), none failing"

    def to_dict(self) -> dict[str, Any]:
        return {"findings": len(self.result.findings), "failing": len(self.result.failing),
                "suppressed": len(self.result.suppressed),
                "tools": {r.tool: {"status": r.status, "findings": len(r.findings)}
                          for r in self.result.tools}}


@dataclass(frozen=True)
class BuildOut:
    result: BuildResult
    image: Pinned                  # the image in the run's OCI layout
    finished: dt.datetime

    @property
    def platforms(self) -> dict[str, str]:
        return {str(i.platform): i.descriptor.digest for i in self.result.images}

    @property
    def summary(self) -> str:
        return f"{self.result.digest[:19]} ({', '.join(self.platforms)})"

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {"digest": r.digest, "platforms": self.platforms, "base": r.base,
                "base_digest": r.base_digest, "version": r.version, "revision": r.revision,
                "size": r.size}


@dataclass(frozen=True)
class SbomOut:
    documents: tuple[SbomDocument, ...]

    @property
    def summary(self) -> str:
        return f"{len(self.documents)} SBOM(s), {sum(d.go_modules for d in self.documents)} module(s)"

    def to_dict(self) -> dict[str, Any]:
        return {"documents": [d.summary() for d in self.documents]}


@dataclass(frozen=True)
class ProfileOut:
    made: ProfileSet
    kept: str | None               # where the profiles are kept (--profiles-dir), else None

    @property
    def counts(self) -> dict[str, int]:
        return {p.platform: p.allowed for p in self.made.platforms}

    @property
    def summary(self) -> str:
        return ", ".join(f"{k}: {v} system calls" for k, v in self.counts.items())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.made.name, "allowed": self.counts,
                "conservative": [p.platform for p in self.made.platforms if p.conservative],
                "outputDir": self.kept}


@dataclass(frozen=True)
class HardenOut:
    report: HardenReport

    @property
    def summary(self) -> str:
        return f"{self.report.summary()['total']} finding(s), passed"

    def to_dict(self) -> dict[str, Any]:
        summary = self.report.summary()
        return {"findings": summary["total"], "failing": summary["failing"],
                "bySeverity": summary["bySeverity"]}


@dataclass(frozen=True)
class Evidence:
    """One attestation to make: about the image, or about one `platform` of it (docs/signing.md,
    "Evidence layout": the statement then names the index and that platform's manifest)."""

    name: str
    predicate_type: str
    predicate: dict[str, Any]
    platform: str | None = None


@dataclass(frozen=True)
class GateOut:
    evidence: tuple[Evidence, ...]   # exactly what the attest step signs
    outlook: PrecheckReport
    policy: str

    @property
    def summary(self) -> str:
        rules = ", ".join(v.rule for v in self.outlook.verdicts) or "no attestation rule"
        return f"policy {self.policy}: {rules} pass on the evidence to sign"

    def to_dict(self) -> dict[str, Any]:
        return {"rules": {v.rule: v.status for v in self.outlook.verdicts}}


@dataclass(frozen=True)
class PushOut:
    image: Pinned                  # the image in the registry
    tag: str | None
    copied: CopyResult

    @property
    def summary(self) -> str:
        return self.image.reference

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.image.reference, "digest": self.image.digest, "tag": self.tag,
                "blobs_copied": self.copied.blobs_copied, "bytes": self.copied.bytes_moved}


@dataclass(frozen=True)
class SignOut:
    signed: SignResult

    @property
    def summary(self) -> str:
        s = self.signed
        return f"{s.mode} as {s.identity or 'key'}, log index {s.log_index}"

    def to_dict(self) -> dict[str, Any]:
        return self.signed.to_dict()


@dataclass(frozen=True)
class Attestation:
    name: str                      # "provenance", "sbom linux/amd64", "tests vet", ...
    signed: SignResult


@dataclass(frozen=True)
class AttestOut:
    attestations: tuple[Attestation, ...]

    @property
    def summary(self) -> str:
        return f"{len(self.attestations)} attestation(s)"

    def to_dict(self) -> dict[str, Any]:
        return {"attestations": [{"name": a.name, **a.signed.to_dict()} for a in self.attestations]}


@dataclass(frozen=True)
class VerifyOut:
    report: PolicyReport
    policy_path: str

    @property
    def summary(self) -> str:
        return f"policy {self.report.policy}: {len(self.report.results)} rule(s) passed"

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy_path, "passed": self.report.passed,
                "rules": {r.rule: r.status for r in self.report.results}}


@dataclass(frozen=True)
class PromoteOut:
    result: PromoteResult

    @property
    def summary(self) -> str:
        return f"{self.result.status}: {self.result.destination}"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.result.status, "destination": self.result.destination,
                "vsa": self.result.vsa_referrer}
