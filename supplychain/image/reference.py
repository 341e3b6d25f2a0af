"""Parsing image references: `host[:port]/repo[:tag][@digest]` and `oci:DIR[:tag|@digest]`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from supplychain.errors import UsageError
from supplychain.image.descriptor import validate_digest

DEFAULT_REGISTRY = "docker.io"
_REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference. Exactly one of (registry, repository) or layout_dir is the location."""

    registry: str = ""
    repository: str = ""
    tag: str | None = None
    digest: str | None = None
    layout_dir: str | None = None

    @property
    def is_layout(self) -> bool:
        return self.layout_dir is not None

    @property
    def name(self) -> str:
        """Location without tag or digest."""
        if self.layout_dir is not None:
            return f"oci:{self.layout_dir}"
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What to ask for: the digest when pinned, else the tag (default `latest`)."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> ImageRef:
        return replace(self, digest=validate_digest(digest))

    def with_tag(self, tag: str | None) -> ImageRef:
        return replace(self, tag=tag, digest=None)

    def by_digest(self) -> str:
        if not self.digest:
            raise UsageError(f"{self} is not pinned by digest")
        sep = "@"
        return f"{self.name}{sep}{self.digest}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _bad(ref: str, why: str) -> UsageError:
    return UsageError(
        f"invalid image reference {ref!r}: {why}",
        expected="host[:port]/repository[:tag][@sha256:<hex>] or oci:DIR[:tag]",
        fix="write the reference as in 'localhost:5000/team/app:v1' or 'oci:dist/oci'",
    )


def parse_image_ref(ref: str) -> ImageRef:
    ref = ref.strip()
    if not ref:
        raise _bad(ref, "it is empty")
    if ref.startswith("oci:"):
        rest = ref[4:]
        digest = tag = None
        if "@" in rest:
            rest, digest = rest.rsplit("@", 1)
            try:
                validate_digest(digest)
            except Exception:
                raise _bad(ref, "the digest is malformed") from None
        elif ":" in rest and _TAG.match(rest.rsplit(":", 1)[1]) and "/" not in rest.rsplit(":", 1)[1]:
            rest, tag = rest.rsplit(":", 1)
        if not rest:
            raise _bad(ref, "no directory after 'oci:'")
        return ImageRef(layout_dir=rest, tag=tag, digest=digest)
    digest = None
    name = ref
    if "@" in ref:
        name, digest = ref.split("@", 1)
        try:
            validate_digest(digest)
        except Exception:
            raise _bad(ref, "the digest is malformed") from None
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            raise _bad(ref, f"the tag {tag!r} is not valid")
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        registry, repo_parts = first, parts[1:]
    else:
        registry, repo_parts = DEFAULT_REGISTRY, parts
        if len(repo_parts) == 1:
            repo_parts = ["library", *repo_parts]
    for part in repo_parts:
        if not _REPO_COMPONENT.match(part):
            raise _bad(ref, f"repository component {part!r} must be lowercase letters, digits, . _ -")
    return ImageRef(registry=registry, repository="/".join(repo_parts), tag=tag, digest=digest)
