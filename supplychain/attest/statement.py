"""in-toto Statement v1: the envelope of every signature and attestation sccheck makes.

A statement is serialised once into canonical bytes; those exact bytes are signed. Which
digests an image's statements name is the evidence layout of docs/signing.md
(`supplychain.signing.api.evidence_targets`); this module only builds and parses statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supplychain.attest.vocabulary import (
    INTOTO_PAYLOAD_TYPE,
    SLSA_PROVENANCE,
    STATEMENT_TYPES,
    STATEMENT_V1,
)
from supplychain.errors import SigningError, UsageError
from supplychain.image.descriptor import canonical_json
from supplychain.strictdoc import load_json

MAX_SUBJECTS = 64
MAX_STATEMENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Subject:
    name: str
    digest: str  # "sha256:<hex>"

    def to_dict(self) -> dict[str, Any]:
        alg, hexpart = self.digest.split(":", 1)
        return {"name": self.name, "digest": {alg: hexpart}}


@dataclass(frozen=True)
class Statement:
    """A statement and the exact bytes that get signed."""

    subjects: tuple[Subject, ...]
    predicate_type: str
    payload: bytes

    @property
    def subject_digests(self) -> tuple[str, ...]:
        return tuple(s.digest for s in self.subjects)


def build_statement(subjects: list[Subject] | tuple[Subject, ...], predicate_type: str,
                    predicate: dict[str, Any] | None) -> Statement:
    if not subjects:
        raise SigningError("an in-toto statement needs at least one subject")
    if len(subjects) > MAX_SUBJECTS:
        raise SigningError(f"too many subjects ({len(subjects)})", expected=f"at most {MAX_SUBJECTS}")
    if not predicate_type or not isinstance(predicate_type, str):
        raise UsageError("the predicate type is empty", expected=f"a URI such as {SLSA_PROVENANCE}")
    if predicate is not None and not isinstance(predicate, dict):
        raise UsageError("the predicate must be a JSON object", found=type(predicate).__name__)
    doc = {
        "_type": STATEMENT_V1,
        "subject": [s.to_dict() for s in subjects],
        "predicateType": predicate_type,
        "predicate": predicate if predicate is not None else {},
    }
    payload = canonical_json(doc)
    if len(payload) > MAX_STATEMENT_BYTES:
        raise UsageError("the statement is too large", expected=f"at most {MAX_STATEMENT_BYTES} bytes",
                         found=f"{len(payload)} bytes")
    return Statement(tuple(subjects), predicate_type, payload)


def parse_statement(payload: bytes, payload_type: str = INTOTO_PAYLOAD_TYPE) -> dict[str, Any]:
    """Read a statement back from a verified envelope: the DSSE payloadType, strict JSON (no
    duplicate keys), a known `_type` and a predicateType. Which digests its subjects must name
    is the verifier's question (`statement_digests`)."""
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise SigningError(f"DSSE payloadType is {payload_type!r}, expected {INTOTO_PAYLOAD_TYPE!r}")
    doc = load_json(payload, "statement", error=SigningError)
    if not isinstance(doc, dict) or doc.get("_type") not in STATEMENT_TYPES:
        found = doc.get("_type") if isinstance(doc, dict) else type(doc).__name__
        raise SigningError(f"statement _type is {found!r}, expected {STATEMENT_V1!r}")
    if not isinstance(doc.get("predicateType"), str):
        raise SigningError("the statement has no predicateType")
    return doc


def statement_digests(doc: dict[str, Any]) -> tuple[str, ...]:
    """The sha256 digests the statement's subjects name, in order."""
    out = []
    for subject in doc.get("subject") or []:
        sha = (subject.get("digest") or {}).get("sha256") if isinstance(subject, dict) else None
        if isinstance(sha, str):
            out.append(f"sha256:{sha.lower()}")
    return tuple(out)
