"""OCI descriptors, media types, digests and defensive manifest parsing."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from supplychain.errors import DigestMismatch, ImageError
from supplychain.strictdoc import load_json

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")


class MediaType:
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
    OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
    OCI_EMPTY = "application/vnd.oci.empty.v1+json"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
    DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"

    INDEXES = frozenset({OCI_INDEX, DOCKER_LIST})
    MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
    ALL_MANIFESTS = INDEXES | MANIFESTS


# The empty JSON object `{}` used as config of artifact manifests.
EMPTY_JSON = b"{}"
EMPTY_JSON_DIGEST = "sha256:" + hashlib.sha256(EMPTY_JSON).hexdigest()


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    if algorithm not in ("sha256", "sha512"):
        raise ImageError(f"unsupported digest algorithm {algorithm!r}", expected="sha256 or sha512")
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def validate_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise ImageError(
            "malformed digest",
            expected="sha256:<64 lowercase hex> (or sha512:<128 hex>)",
            found=repr(digest)[:200],
        )
    return digest


def verify_digest(data: bytes, digest: str, what: str = "content") -> None:
    """Raise unless `data` hashes to `digest`. Never trust a digest a server reports."""
    validate_digest(digest)
    actual = compute_digest(data, digest.split(":", 1)[0])
    if actual != digest:
        raise DigestMismatch(
            f"{what} does not match its digest",
            expected=digest,
            found=actual,
            fix="the source served different bytes than it claims; do not use it",
        )


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    platform: dict[str, str] | None = field(default=None, hash=False, compare=False)
    artifact_type: str | None = None

    @classmethod
    def for_bytes(cls, media_type: str, data: bytes, **kw: Any) -> Descriptor:
        return cls(media_type=media_type, digest=compute_digest(data), size=len(data), **kw)

    @classmethod
    def from_dict(cls, raw: Any) -> Descriptor:
        if not isinstance(raw, dict):
            raise ImageError("descriptor is not an object", found=repr(raw)[:200])
        try:
            media_type = raw["mediaType"]
            digest = validate_digest(raw["digest"])
            size = raw["size"]
        except KeyError as exc:
            raise ImageError(f"descriptor lacks {exc.args[0]!r}", found=json.dumps(raw)[:300]) from None
        if not isinstance(media_type, str) or type(size) is not int or size < 0:
            raise ImageError("descriptor has a bad mediaType or size", found=json.dumps(raw)[:300])
        annotations = string_map(raw.get("annotations"), "descriptor annotations")
        platform = _platform(raw.get("platform"))
        artifact_type = raw.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise ImageError("descriptor artifactType is not a string", found=repr(artifact_type)[:100])
        urls = raw.get("urls")
        if urls is not None and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
            raise ImageError("descriptor urls is not a list of strings", found=repr(urls)[:100])
        return cls(media_type, digest, size, annotations, platform, artifact_type)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out

    @property
    def platform_string(self) -> str | None:
        if not self.platform:
            return None
        text = f"{self.platform.get('os')}/{self.platform.get('architecture')}"
        if self.platform.get("variant"):
            text += f"/{self.platform['variant']}"
        return text


MAX_CHILDREN = 10_000  # layers of an image, or manifests of an index


def string_map(raw: Any, what: str) -> dict[str, str]:
    """An annotations-like object: absent, or a JSON object of strings to strings."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise ImageError(f"{what} must map strings to strings", found=repr(raw)[:200])
    return dict(raw)


def _platform(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("os"), str) or \
            not isinstance(raw.get("architecture"), str):
        raise ImageError("descriptor platform needs string 'os' and 'architecture'", found=repr(raw)[:200])
    for key, value in raw.items():
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value) if key in (
            "os.features", "features") else isinstance(value, str)
        if not ok:
            raise ImageError(f"descriptor platform field {key!r} has the wrong type", found=repr(value)[:100])
    return dict(raw)


def _check_shape(doc: dict[str, Any], is_index: bool) -> None:
    """Every field the library reads has the type the specs give it, so no later reader meets a
    list where it expects an object. Each descriptor of an image is checked as a descriptor; the
    entries of an index are checked where they are read (`manifest_children`, the referrers
    listing), so that one bad entry of a `sha256-<hex>` fallback index costs only that entry."""
    if doc.get("schemaVersion") != 2 or type(doc.get("schemaVersion")) is not int:
        raise ImageError("manifest schemaVersion is not 2", found=repr(doc.get("schemaVersion"))[:50])
    string_map(doc.get("annotations"), "manifest annotations")
    if doc.get("artifactType") is not None and not isinstance(doc["artifactType"], str):
        raise ImageError("manifest artifactType is not a string")
    key = "manifests" if is_index else "layers"
    children = doc.get(key)
    if not isinstance(children, list):
        raise ImageError(f"manifest {key!r} is not a list", found=type(children).__name__)
    if len(children) > MAX_CHILDREN:
        raise ImageError(f"manifest lists too many {key}", expected=f"at most {MAX_CHILDREN}",
                         found=str(len(children)))
    if not is_index:  # an index's entries are read one by one: a bad one is that entry's fault
        for child in children:
            Descriptor.from_dict(child)
        if "config" not in doc:
            raise ImageError("image manifest without 'config'")
        Descriptor.from_dict(doc["config"])
    if doc.get("subject") is not None:
        Descriptor.from_dict(doc["subject"])


class ReferrerList(list[Descriptor]):
    """The referrers that checked out, and (in `rejected`) the listed entries that did not, each
    as (digest or list position, reason). A bad entry is a fact about that entry: it never hides
    the good ones, and it is never mistaken for a failure to list."""

    def __init__(self, found: list[Descriptor], rejected: list[tuple[str, str]]) -> None:
        super().__init__(found)
        self.rejected = rejected


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON for manifests and configs we write (stable digests)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def loads_strict(data: bytes, what: str = "document") -> Any:
    """Parse untrusted JSON with the one strict reader (duplicate keys, depth and size refused)."""
    return load_json(data, what)


def parse_manifest(data: bytes, declared_media_type: str | None = None) -> dict[str, Any]:
    """Parse a manifest or index defensively: size cap, strict JSON, unambiguous kind,
    and the declared media type (e.g. a registry's Content-Type) must match the body."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ImageError(
            "manifest is too large",
            expected=f"at most {MAX_MANIFEST_BYTES} bytes",
            found=f"{len(data)} bytes",
        )
    doc = loads_strict(data, "manifest")
    if not isinstance(doc, dict):
        raise ImageError("manifest is not a JSON object")
    if "layers" in doc and "manifests" in doc:
        raise ImageError(
            "ambiguous manifest: it has both 'layers' and 'manifests'",
            fix="refuse it; a well-formed manifest is either an image or an index",
        )
    body_type = doc.get("mediaType")
    if body_type is None:
        body_type = MediaType.OCI_INDEX if "manifests" in doc else MediaType.OCI_MANIFEST
        doc["mediaType"] = body_type
    if not isinstance(body_type, str) or body_type not in MediaType.ALL_MANIFESTS:
        raise ImageError("unsupported manifest media type", found=str(body_type)[:200])
    is_index = body_type in MediaType.INDEXES
    if is_index and "manifests" not in doc:
        raise ImageError("index without 'manifests'", found=body_type)
    if not is_index and "layers" not in doc:
        raise ImageError("image manifest without 'layers'", found=body_type)
    if declared_media_type:
        declared = declared_media_type.split(";", 1)[0].strip()
        if declared and declared != body_type:
            raise ImageError(
                "manifest media type does not match its body",
                expected=f"the declared {declared}",
                found=f"a body of type {body_type}",
            )
    _check_shape(doc, is_index)
    return doc
