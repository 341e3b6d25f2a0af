"""OCI layout archives (`oci-archive:FILE[@digest]`): a `sccheck bundle export` file or a
`sccheck build --tarball` (which is also a docker archive). Unpacking keeps only the layout's own
names, regular files, bounded in count and size, and hashes every blob against its name on the
way, so nothing read from an archive is trusted before it is checked."""

from __future__ import annotations

import contextlib
import hashlib
import re
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from supplychain.errors import ImageError, UsageError, VerificationFailed
from supplychain.image.descriptor import validate_digest
from supplychain.strictdoc import load_json

ARCHIVE_PREFIX = "oci-archive:"
MAX_MEMBERS = 100_000
MAX_ARCHIVE_BYTES = 64 << 30
MAX_SMALL_FILE = 16 << 20  # index.json, oci-layout
_BLOB_NAME = re.compile(r"^blobs/(sha256)/([0-9a-f]{64})$")
_DIRS = {"blobs", "blobs/sha256"}
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def is_archive(image: str) -> bool:
    return image.startswith(ARCHIVE_PREFIX)


def archive_path(image: str) -> str:
    path = image[len(ARCHIVE_PREFIX) :] if is_archive(image) else image
    if not path:
        raise UsageError("oci-archive: names no file", expected="oci-archive:release.tar")
    return path


def tampered(what: str, expected: str, found: str, *, noun: str = "archive",
             remake: str = "export or build it again from the source") -> VerificationFailed:
    """What reading an archive (or a bundle) found that is not what it claims to hold."""
    return VerificationFailed(
        f"the {noun} is tampered: {what}",
        expected=expected,
        found=found,
        fix=f"do not ship from this {noun}; {remake}",
    )


def extract(path: str, into: Path, skip: frozenset[str] = frozenset()) -> None:
    """Unpack the layout of `path` into `into`: only the layout's own names, regular files, bounded
    in count and size; every blob hashed on the way and refused unless it matches its name.
    Names in `skip` (a docker archive's manifest.json in a `build --tarball`) are passed over."""
    try:
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise UsageError(
            f"cannot read the archive {path}: {exc}",
            fix="name a file written by 'sccheck bundle export' or 'sccheck build --tarball'",
        ) from None
    try:
        with tar:
            _unpack(tar, path, into, skip)
    except (tarfile.TarError, EOFError) as exc:  # cut short or damaged mid-way
        raise ImageError(f"the archive {path} is truncated or damaged: {str(exc)[:200]}",
                         expected="a whole tar archive written by 'sccheck bundle export' or "
                                  "'sccheck build --tarball'",
                         fix="copy the archive again and compare its sha256 with the original") from None


def _unpack(tar: tarfile.TarFile, path: str, into: Path, skip: frozenset[str]) -> None:
    total = count = 0
    for member in tar:
        count += 1
        if count > MAX_MEMBERS:
            raise ImageError(f"the archive {path} has more than {MAX_MEMBERS} entries")
        name = member.name.removeprefix("./").rstrip("/")
        if member.isdir() and (name in _DIRS or name in ("", ".")):
            continue
        if name in skip and member.isreg():
            continue
        blob = _BLOB_NAME.match(name)
        if not member.isreg() or not (blob or name in ("oci-layout", "index.json")):
            raise ImageError(
                f"the archive {path} holds {name[:120]!r}, which is not part of an OCI layout",
                expected="oci-layout, index.json, blobs/sha256/<hex> (regular files)",
            )
        total += member.size
        if total > MAX_ARCHIVE_BYTES or (not blob and member.size > MAX_SMALL_FILE):
            raise ImageError(
                f"the archive {path} is too large", found=f"{name[:120]}: {member.size} bytes"
            )
        src = tar.extractfile(member)
        assert src is not None
        dest = into / name
        if dest.exists():   # a second entry of one name would replace what was checked
            raise tampered(f"the archive holds {name} twice", "each name once", "twice")
        dest.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        with src, dest.open("xb") as out:
            while chunk := src.read(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
        if blob and hasher.hexdigest() != blob.group(2):
            raise tampered(
                f"the blob {name} does not match its digest",
                f"sha256:{blob.group(2)}",
                f"sha256:{hasher.hexdigest()}",
            )


DOCKER_ARCHIVE_MEMBERS = frozenset({"manifest.json", "repositories"})


@contextlib.contextmanager
def archive_as_layout(image: str) -> Iterator[str]:
    """`oci-archive:FILE[@sha256:...]` (an OCI layout tar, e.g. `sccheck build --tarball`, which
    is also a docker archive) as `oci:DIR@digest` of its checked, unpacked copy for the duration;
    any other reference as it is. Without a digest the archive must hold exactly one image."""
    if not is_archive(image):
        yield image
        return
    path, _, digest = archive_path(image).partition("@")
    if digest and not _DIGEST.match(digest):     # refused before anything is unpacked
        raise UsageError(f"{image[:200]!r} names a malformed digest",
                         expected="oci-archive:FILE[@sha256:<64 lowercase hex>]")
    with tempfile.TemporaryDirectory(prefix="sccheck-archive-") as tmp:
        directory = Path(tmp) / "layout"
        directory.mkdir()
        extract(path, directory, DOCKER_ARCHIVE_MEMBERS)
        if not digest:
            index = load_json((directory / "index.json").read_bytes(), f"{path}: index.json")
            listed = index.get("manifests") if isinstance(index, dict) else None
            if not isinstance(listed, list) or len(listed) != 1 or not isinstance(listed[0], dict):
                raise UsageError(f"{path} does not hold exactly one image",
                                 expected=f"oci-archive:{path}@sha256:<digest>",
                                 found=f"{len(listed) if isinstance(listed, list) else 0} entries "
                                       "in index.json")
            digest = str(listed[0].get("digest"))
        yield f"oci:{directory}@{validate_digest(digest)}"
