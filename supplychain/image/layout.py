"""OCI image layout directories (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`).

Writes are atomic: blobs go through a temporary file and a rename; `index.json` is replaced
last. A `transaction()` that fails removes the blobs it added, and a layout that did not exist
before is built in a sibling staging directory and renamed into place only on success.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from supplychain.errors import DigestMismatch, ImageError, ImageNotFound, UsageError
from supplychain.fsutil import atomic_write as _atomic_write
from supplychain.fsutil import output_mode, temp_file_beside
from supplychain.image.descriptor import (
    Descriptor,
    MediaType,
    ReferrerList,
    canonical_json,
    compute_digest,
    parse_manifest,
    validate_digest,
    verify_digest,
)
from supplychain.image.store import LocalStore
from supplychain.strictdoc import load_json

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = b'{"imageLayoutVersion":"1.0.0"}'


class OCILayout(LocalStore):
    """A ContentStore over an OCI layout directory."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = Path(path)
        self._added: list[Path] | None = None
        if create:
            self._init()
            return
        try:
            present, exists = (self.path / "oci-layout").is_file(), self.path.exists()
        except OSError as exc:  # a name too long, a path through a file, ...
            raise UsageError(f"cannot open the OCI layout at {str(self.path)[:200]}: {exc.strerror}",
                             fix="name an existing layout directory") from None
        if not present:
            raise ImageError(
                f"{self.path} is not an OCI layout",
                expected="a directory with 'oci-layout' and 'index.json'",
                found="no oci-layout file" if exists else "no such directory",
                fix="point at a directory written by 'sccheck build --output oci:DIR'",
            )

    def _init(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if not (self.path / "oci-layout").is_file():
                _atomic_write(self.path / "oci-layout", LAYOUT_VERSION)
            if not (self.path / "index.json").is_file():
                _atomic_write(self.path / "index.json", self._index_bytes([]))
        except OSError as exc:
            raise UsageError(
                f"cannot write the OCI layout at {self.path}: {exc.strerror}",
                fix="choose a writable --output directory",
            ) from None

    @classmethod
    @contextlib.contextmanager
    def transaction(cls, path: str | os.PathLike[str]) -> Iterator[OCILayout]:
        """Write into a layout all-or-nothing."""
        target = Path(path)
        if not target.exists():
            parent = target.parent if str(target.parent) else Path(".")
            try:
                parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=parent))
                staging.chmod(output_mode(directory=True))  # mkdtemp makes 0700; a layout is an output
            except OSError as exc:
                raise UsageError(
                    f"cannot create the OCI layout at {target}: {exc.strerror}",
                    fix="choose a writable --output directory",
                ) from None
            try:
                layout = cls(staging, create=True)
                yield layout
                layout.path = target
                os.rename(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            return
        layout = cls(target, create=True)
        layout._added = []
        original_index = (target / "index.json").read_bytes()
        try:
            yield layout
        except BaseException:
            for blob in layout._added:
                with contextlib.suppress(FileNotFoundError):
                    blob.unlink()
            _atomic_write(target / "index.json", original_index)
            raise
        finally:
            layout._added = None

    # -- ContentStore ---------------------------------------------------------------------
    def describe(self) -> str:
        return f"oci:{self.path}"

    def _blob_path(self, digest: str) -> Path:
        alg, hexpart = validate_digest(digest).split(":", 1)
        return self.path / "blobs" / alg / hexpart

    def has_blob(self, digest: str) -> bool:
        return self._blob_path(digest).is_file()

    def read_blob(self, desc: Descriptor) -> bytes:
        try:
            data = self._blob_path(desc.digest).read_bytes()
        except FileNotFoundError:
            raise ImageNotFound(f"blob {desc.digest} is missing from {self.describe()}") from None
        if len(data) != desc.size:
            raise DigestMismatch(
                f"blob {desc.digest} has the wrong size", expected=str(desc.size), found=str(len(data))
            )
        verify_digest(data, desc.digest, f"blob in {self.describe()}")
        return data

    def iter_blob(self, desc: Descriptor, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        path = self._blob_path(desc.digest)
        if not path.is_file():
            raise ImageNotFound(f"blob {desc.digest} is missing from {self.describe()}")
        with path.open("rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk

    def write_blob(self, data: bytes, desc: Descriptor | None = None) -> Descriptor:
        if desc is None:
            desc = Descriptor.for_bytes("application/octet-stream", data)
        else:
            verify_digest(data, desc.digest, "blob to write")
        path = self._blob_path(desc.digest)
        if not path.is_file():
            _atomic_write(path, data)
            if self._added is not None:
                self._added.append(path)
        return desc

    def write_blob_chunks(self, desc: Descriptor, chunks: Iterable[bytes], *,
                          reopen: Callable[[], Iterable[bytes]] | None = None) -> None:
        path = self._blob_path(desc.digest)
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        alg = desc.digest.split(":", 1)[0]
        hasher = hashlib.new(alg)
        size = 0
        fd, tmp = temp_file_beside(path, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    size += len(chunk)
                    if size > desc.size:
                        raise DigestMismatch(f"blob {desc.digest} is larger than its descriptor says")
                    hasher.update(chunk)
                    fh.write(chunk)
            actual = f"{alg}:{hasher.hexdigest()}"
            if actual != desc.digest or size != desc.size:
                raise DigestMismatch(f"streamed blob does not match {desc.digest}", found=actual)
            os.replace(tmp, path)
            if self._added is not None:
                self._added.append(path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _index(self) -> dict[str, Any]:
        try:
            doc = load_json((self.path / "index.json").read_bytes(), f"{self.path}/index.json")
        except OSError as exc:
            raise ImageError(f"cannot read {self.path}/index.json: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
            raise ImageError(f"{self.path}/index.json is not an OCI index")
        return doc

    @staticmethod
    def _index_bytes(manifests: list[dict[str, Any]]) -> bytes:
        return canonical_json(
            {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": manifests}
        )

    def entries(self) -> list[Descriptor]:
        """The top-level descriptors of index.json (tags in their ref.name annotation)."""
        return [Descriptor.from_dict(m) for m in self._index().get("manifests", [])]

    def resolve(self, identifier: str) -> Descriptor:
        entries = self.entries()
        if identifier.startswith("sha256:") or identifier.startswith("sha512:"):
            for entry in entries:
                if entry.digest == identifier:
                    return entry
            if self.has_blob(identifier):
                data = self._blob_path(identifier).read_bytes()
                doc = parse_manifest(data)
                return Descriptor(doc["mediaType"], identifier, len(data))
            raise ImageNotFound(f"{identifier} is not in {self.describe()}")
        matches = [e for e in entries if e.annotations.get(REF_NAME) == identifier]
        if not matches and identifier == "latest" and len(entries) == 1:
            matches = entries
        if not matches:
            tags = sorted({e.annotations[REF_NAME] for e in entries if REF_NAME in e.annotations})
            raise ImageNotFound(
                f"no image tagged {identifier!r} in {self.describe()}",
                found=f"tags: {', '.join(tags) or 'none'}",
                fix="name a tag the layout has (oci:DIR:TAG) or pin a digest (oci:DIR@sha256:...)",
            )
        return matches[-1]

    def read_manifest(self, identifier: str) -> tuple[bytes, str, str]:
        desc = self.resolve(identifier)
        data = self.read_blob(desc)
        doc = parse_manifest(data, desc.media_type)
        return data, doc["mediaType"], desc.digest

    def write_manifest(self, data: bytes, media_type: str, tag: str | None = None, *,
                       index: bool = True) -> str:
        doc = parse_manifest(data, media_type)
        desc = self.write_blob(data, Descriptor.for_bytes(media_type, data))
        annotations = {REF_NAME: tag} if tag else {}
        entry = Descriptor(media_type, desc.digest, desc.size, annotations,
                           artifact_type=doc.get("artifactType")).to_dict()
        manifests = self._index().get("manifests", [])
        kept = []
        for existing in manifests:
            same_tag = tag and existing.get("annotations", {}).get(REF_NAME) == tag
            untagged_same = (not tag and existing.get("digest") == desc.digest
                             and not existing.get("annotations", {}).get(REF_NAME))
            if not same_tag and not untagged_same:
                kept.append(existing)
        kept.append(entry)
        _atomic_write(self.path / "index.json", self._index_bytes(kept))
        return desc.digest

    def has_manifest(self, digest: str, listed: bool = False, size: int | None = None) -> bool:
        if listed:
            return any(e.digest == digest for e in self.entries())
        return self.has_blob(digest)

    def store_manifest(self, data: bytes, media_type: str) -> str:
        """A child of an index is a blob of the layout, not an entry of index.json."""
        parse_manifest(data, media_type)
        return self.write_blob(data, Descriptor.for_bytes(media_type, data)).digest

    def lookup_tag(self, tag: str) -> str | None:
        for entry in self.entries():
            if entry.annotations.get(REF_NAME) == tag:
                return entry.digest
        return None

    def referrers(self, digest: str, artifact_type: str | None = None) -> ReferrerList:
        """Manifests of the layout whose subject is `digest`; one that cannot be read is left out
        and named in `rejected` (it may or may not have been a referrer: nobody can tell)."""
        found = []
        rejected: list[tuple[str, str]] = []
        for entry in self.entries():
            if entry.media_type not in MediaType.MANIFESTS:
                continue
            try:
                doc = parse_manifest(self.read_blob(entry), entry.media_type)
            except ImageError as exc:
                rejected.append((entry.digest, f"an unreadable manifest in the layout: {exc.message}"))
                continue
            subject = doc.get("subject") or {}
            if subject.get("digest") != digest:
                continue
            kind = doc.get("artifactType") or doc.get("config", {}).get("mediaType")
            if artifact_type and kind != artifact_type:
                continue
            found.append(Descriptor(entry.media_type, entry.digest, entry.size,
                                    dict(doc.get("annotations") or {}), artifact_type=kind))
        return ReferrerList(found, rejected)


def digest_of_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


__all__ = ["REF_NAME", "OCILayout", "compute_digest", "digest_of_file"]
