"""What the SBOM is made of, independent of where it was read: Go programs and OS packages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from supplychain.sbom.buildinfo import BuildInfo, Module, injected_version
from supplychain.sbom.ospkgs import OsPackage

DEVEL = "(devel)"


@dataclass(frozen=True)
class GoProgram:
    """A Go binary (from its build info) or a Go module source tree (from go.mod / go list)."""

    kind: str                               # "binary" | "source"
    location: str                           # path in the image, file path or directory
    main: Module                            # with the best known version
    version_source: str                     # where the main version came from
    deps: tuple[Module, ...]
    go_version: str                         # "go1.26.8" ("" when unknown)
    settings: tuple[tuple[str, str], ...] = ()
    # module path -> paths it requires; None means "main requires every dep" (a binary)
    graph: dict[str, tuple[str, ...]] | None = None
    sha256: str = ""                        # of the binary
    indirect: frozenset[str] = field(default_factory=frozenset)
    package: str = ""                       # the main package's import path ("" = the module root)

    @property
    def subpath(self) -> str:
        """The main package below the module root ("cmd/server"), "" at the root."""
        root = self.main.path
        if self.package and root and self.package.startswith(root + "/"):
            return self.package[len(root) + 1:]
        return ""

    def setting(self, key: str) -> str | None:
        return next((v for k, v in self.settings if k == key), None)


@dataclass(frozen=True)
class Subject:
    """What the BOM describes: an image (one platform of it), a binary or a source tree."""

    kind: str                   # "image" | "binary" | "source"
    name: str                   # image name, file name or module path
    version: str = ""           # image tag, or the main module version
    digest: str = ""            # image manifest digest (sha256:...)
    index_digest: str = ""      # the multi-platform index it came from
    platform: str = ""
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Inventory:
    subject: Subject
    programs: tuple[GoProgram, ...]
    os_packages: tuple[OsPackage, ...]
    os_release: tuple[str, str] | None = None    # (ID, VERSION_ID) from os-release


def pseudo_version(revision: str, when: str) -> str | None:
    """`v0.0.0-<UTC yyyymmddhhmmss>-<rev12>` from vcs.revision and vcs.time (RFC 3339)."""
    if not revision or not when:
        return None
    try:
        stamp = datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None
    return f"v0.0.0-{stamp:%Y%m%d%H%M%S}-{revision[:12]}"


def main_version(info: BuildInfo, data: bytes | None) -> tuple[str, str]:
    """The main module's real version and where it came from; "(devel)" only when nothing is known."""
    version = info.main.version
    if version and version != DEVEL:
        return version, "build info (VCS tag stamped by go build)"
    injected = injected_version(info, data)
    if injected is not None:
        value, where = injected
        if value[:1].isdigit():  # Go module versions always start with "v"
            return f"v{value}", f'{where} ("{value}")'
        return value, where
    pseudo = pseudo_version(info.setting("vcs.revision") or "", info.setting("vcs.time") or "")
    if pseudo is not None:
        if info.setting("vcs.modified") == "true":
            pseudo += "+dirty"
        return pseudo, "pseudo-version from vcs.revision and vcs.time"
    return DEVEL, "nothing better than (devel) is recorded"


def program_from_binary(info: BuildInfo, data: bytes, location: str) -> GoProgram:
    version, source = main_version(info, data)
    main = Module(info.main.path or info.path, version, info.main.sum, info.main.replace)
    return GoProgram("binary", location, main, source, info.deps, info.go_version, info.settings,
                     None, hashlib.sha256(data).hexdigest(), package=info.path)
