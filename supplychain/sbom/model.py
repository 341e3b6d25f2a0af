"""What the SBOM is made of, independent of where it was read: Go programs and OS packages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
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


_PSEUDO = re.compile(r"\d{14}-[0-9a-f]{12}(\+dirty)?$")


def recorded_version(labels: Mapping[str, str] | None, data: bytes | None) -> str | None:
    """The version sccheck build recorded in the image's labels (the -X settings and which of
    them is the version), when that string is really in the binary (the variable exists)."""
    if not labels or data is None:
        return None
    var = labels.get("dev.sccheck.go.version-var", "")
    settings = dict(item.partition("=")[::2] for item in labels.get("dev.sccheck.go.x", "").split())
    value = settings.get(var, "")
    if not var or not value or value == "dev" or value.encode() not in data:
        return None
    return value


def main_version(info: BuildInfo, data: bytes | None,
                 labels: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The main module's real version and where it came from; "(devel)" only when nothing is
    known. A VCS tag stamped by go build wins; then the -X version sccheck build recorded in the
    image labels; then a version found in the binary; then go's pseudo-version."""
    version = info.main.version
    if version and version != DEVEL and not _PSEUDO.search(version):
        return version, "build info (VCS tag stamped by go build)"
    recorded = recorded_version(labels, data)
    if recorded is not None:
        var = (labels or {}).get("dev.sccheck.go.version-var")
        value = recorded if recorded.startswith("v") or not recorded[:1].isdigit() else f"v{recorded}"
        return value, f'image label dev.sccheck.go.x (-X {var}={recorded})'
    if version and version != DEVEL:
        return version, "build info (pseudo-version stamped by go build)"
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


def program_from_binary(info: BuildInfo, data: bytes, location: str,
                        labels: Mapping[str, str] | None = None) -> GoProgram:
    version, source = main_version(info, data, labels)
    main = Module(info.main.path or info.path, version, info.main.sum, info.main.replace)
    return GoProgram("binary", location, main, source, info.deps, info.go_version, info.settings,
                     None, hashlib.sha256(data).hexdigest(), package=info.path)
