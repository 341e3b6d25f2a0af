"""in-toto Statement v1 about an image: what sccheck signs and attests.

Which digests a statement names is the evidence layout of docs/signing.md
(`supplychain.signing.api.evidence_targets`).
The statement is serialised once into canonical bytes; those exact bytes are signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supplychain.errors import SigningError, UsageError
from supplychain.image.descriptor import canonical_json
from supplychain.strictdoc import load_json

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
# The predicate cosign v3 signs for `cosign sign`; `cosign verify` expects it (and ignores it).
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
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
        raise UsageError("the predicate type is empty", expected="a URI such as https://slsa.dev/provenance/v1")
    if predicate is not None and not isinstance(predicate, dict):
        raise UsageError("the predicate must be a JSON object", found=type(predicate).__name__)
    doc = {
        "_type": STATEMENT_TYPE,
        "subject": [s.to_dict() for s in subjects],
        "predicateType": predicate_type,
        "predicate": predicate if predicate is not None else {},
    }
    payload = canonical_json(doc)
    if len(payload) > MAX_STATEMENT_BYTES:
        raise UsageError("the statement is too large", expected=f"at most {MAX_STATEMENT_BYTES} bytes",
                         found=f"{len(payload)} bytes")
    return Statement(tuple(subjects), predicate_type, payload)


def parse_statement(payload: bytes) -> dict[str, Any]:
    """Parse a statement read back from a bundle; checks `_type` and the subject shape."""
    try:
        doc = load_json(payload, "the signed payload", error=SigningError)
    except SigningError:
        raise
    if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE:
        found = doc.get("_type") if isinstance(doc, dict) else doc
        raise SigningError("the signed payload is not an in-toto Statement v1",
                           expected=STATEMENT_TYPE, found=str(found)[:100])
    if not isinstance(doc.get("subject"), list) or not isinstance(doc.get("predicateType"), str):
        raise SigningError("the in-toto statement lacks subject or predicateType")
    return doc


def statement_digests(doc: dict[str, Any]) -> set[str]:
    out = set()
    for subject in doc.get("subject", []):
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict):
            for alg, value in subject["digest"].items():
                out.add(f"{alg}:{value}")
    return out
