"""in-toto Statement v1 about an image: what sccheck signs and attests.

The subject is the image manifest digest; for a multi-platform index, the index digest and
the digest of each platform manifest, so a verifier holding either finds itself named.
The statement is serialised once into canonical bytes; those exact bytes are signed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from supplychain.errors import SigningError, UsageError
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json, parse_manifest
from supplychain.image.store import ContentStore

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
# The predicate cosign v3 signs for `cosign sign`; `cosign verify` expects it (and ignores it).
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
MAX_SUBJECTS = 64
MAX_STATEMENT_BYTES = 16 * 1024 * 1024

# Index entries that are not runnable platform images (BuildKit's attestation manifests).
_REFERENCE_TYPE = "vnd.docker.reference.type"


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
        doc = json.loads(payload)
    except ValueError as exc:
        raise SigningError(f"the signed payload is not JSON: {exc}") from None
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


def platform_manifests(doc: dict[str, Any]) -> list[Descriptor]:
    """The runnable platform manifests of an index (not BuildKit attestation manifests)."""
    out = []
    for child in doc.get("manifests", []):
        desc = Descriptor.from_dict(child)
        if desc.media_type not in MediaType.MANIFESTS:
            continue
        if desc.annotations.get(_REFERENCE_TYPE):
            continue
        if desc.platform and desc.platform.get("os") == "unknown":
            continue
        out.append(desc)
    return out


def image_subjects(store: ContentStore, name: str, digest: str) -> tuple[Descriptor, list[Subject],
                                                                         list[Descriptor]]:
    """(descriptor of the image, statement subjects, platform manifests) for `digest`."""
    data, media_type, got = store.read_manifest(digest)
    if got != digest:
        raise SigningError("the registry returned a different manifest than asked for",
                           expected=digest, found=got)
    doc = parse_manifest(data, media_type)
    desc = Descriptor(doc["mediaType"], digest, len(data))
    subjects = [Subject(name, digest)]
    platforms: list[Descriptor] = []
    if doc["mediaType"] in MediaType.INDEXES:
        platforms = platform_manifests(doc)
        subjects += [Subject(name, p.digest) for p in platforms]
    return desc, subjects, platforms
