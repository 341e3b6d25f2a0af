"""Evidence about one image, as the verification core found it.

Only `VerifiedStatement`s passed every cryptographic and binding check (bundle, identity,
payloadType, statement type, subject digest). Bundles that were found but failed a check are kept
as `RejectedBundle`s, so a report can tell "no evidence" apart from "evidence failed".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Signer:
    kind: str                      # "keyless" | "key"
    issuer: str = ""
    subject: str = ""
    key_name: str = ""
    claims: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def describe(self) -> str:
        if self.kind == "key":
            return f"key {self.key_name!r}"
        return f"{self.subject} (issuer {self.issuer})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "issuer": self.issuer, "subject": self.subject,
                "keyName": self.key_name, "claims": dict(self.claims)}


@dataclass(frozen=True)
class VerifiedStatement:
    bundle_digest: str             # digest of the referrer manifest that carried the bundle
    attached_to: str               # the image digest whose referrers listed it
    predicate_type: str
    subjects: tuple[str, ...]      # "sha256:<hex>" digests named by the statement
    signer: Signer
    predicate: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    signed_at: dt.datetime | None = None

    def covers(self, digest: str) -> bool:
        """Evidence for `digest`: found among ITS referrers and naming it as a subject. A bundle
        attached to one child never counts for another, nor for a sibling added later."""
        return digest == self.attached_to and digest in self.subjects

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle_digest, "attachedTo": self.attached_to,
                "predicateType": self.predicate_type, "subjects": list(self.subjects),
                "signer": self.signer.to_dict(),
                "signedAt": self.signed_at.isoformat() if self.signed_at else None}


@dataclass(frozen=True)
class RejectedBundle:
    bundle_digest: str
    attached_to: str
    predicate_type: str            # as claimed by the referrer's annotation ("" when unknown)
    stage: str                     # "fetch" | "bundle" | "identity" | "statement" | "subject" | "limits"
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle_digest, "attachedTo": self.attached_to,
                "predicateType": self.predicate_type, "stage": self.stage, "reason": self.reason}


@dataclass(frozen=True)
class ManifestFacts:
    """One runnable image of the subject (the only one, or a runnable child of an index)."""

    digest: str
    platform: str                  # "linux/amd64"
    base_name: str = ""            # org.opencontainers.image.base.name
    base_digest: str = ""          # org.opencontainers.image.base.digest
    layers: tuple[str, ...] = ()   # the manifest's layer digests, in order
    # the executables of the top layer (name, sha256 hex), read only for a chain layout that
    # matches binaries (`bin/*` in the rules of its `image` step)
    binaries: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ImageEvidence:
    reference: str
    digest: str                    # the digest everything was verified against
    is_index: bool
    manifests: tuple[ManifestFacts, ...]
    statements: tuple[VerifiedStatement, ...] = ()
    rejected: tuple[RejectedBundle, ...] = ()

    @property
    def platform_digests(self) -> tuple[str, ...]:
        """The runnable images: every runnable child of an index, or the image itself."""
        return tuple(mf.digest for mf in self.manifests)

    @property
    def all_digests(self) -> tuple[str, ...]:
        return (self.digest, *self.platform_digests) if self.is_index else (self.digest,)

    def label(self, digest: str) -> str:
        """'the index sha256:…' or 'linux/arm64 sha256:…' for messages."""
        if self.is_index and digest == self.digest:
            return f"the index {digest}"
        for mf in self.manifests:
            if mf.digest == digest:
                return f"{mf.platform} {digest}" if self.is_index else f"the image {digest}"
        return digest
