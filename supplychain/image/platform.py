"""Platforms: `os/architecture[/variant]`, one parser and one formatter for every command.

`Platform.parse` reads one platform strictly (two or three non-empty parts, lowercase names);
`parse_platforms` reads a comma list as given to `--platform` and refuses empty items,
duplicates, and pairs that name the same platform twice (`linux/arm64,linux/arm64/v8`).
What a runtime would select is compared on the normalised form: `arm64` means `arm64/v8`,
`arm` means `arm/v7` (containerd's and the OCI image spec's defaults).
"""

from __future__ import annotations

import platform as host_platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from supplychain.errors import UsageError

_PART = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}
_HOST_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
              "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}
UNKNOWN = "unknown"
EXAMPLE = "e.g. linux/amd64,linux/arm64"


def goarch(machine: str) -> str | None:
    """A machine name as `uname -m` (or the Docker engine's `Architecture`) gives it, as an OCI /
    GOARCH architecture (`x86_64` -> `amd64`); None for one we do not know."""
    return _HOST_ARCH.get(machine.lower())


@dataclass(frozen=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """`linux/amd64`, `linux/arm/v6`; `linux/arm` reads as `linux/arm/v7`."""
        if not isinstance(text, str):
            raise UsageError("a platform must be text", expected="os/arch[/variant]", found=repr(text)[:80])
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(_PART.match(p) for p in parts):
            raise UsageError(f"invalid platform {text.strip()[:80]!r}",
                             expected="os/arch[/variant] in lowercase, e.g. linux/amd64 or linux/arm/v7",
                             fix=EXAMPLE)
        variant = parts[2] if len(parts) == 3 else None
        if parts[1] == "arm" and variant is None:
            variant = "v7"
        return cls(parts[0], parts[1], variant)

    @classmethod
    def from_oci(cls, raw: Mapping[str, Any] | None) -> Platform | None:
        """The platform of a descriptor or an image config (`os`, `architecture`, `variant`);
        None when it names no os/architecture."""
        if not isinstance(raw, Mapping):
            return None
        os_, arch, variant = raw.get("os"), raw.get("architecture"), raw.get("variant")
        if not isinstance(os_, str) or not isinstance(arch, str) or not os_ or not arch:
            return None
        return cls(os_, arch, variant if isinstance(variant, str) and variant else None)

    @classmethod
    def host(cls) -> Platform:
        arch = goarch(host_platform.machine()) or "amd64"
        return cls("linux", arch, "v7" if arch == "arm" else None)

    @property
    def is_unknown(self) -> bool:
        """`unknown/unknown`: what BuildKit writes on its attestation manifests."""
        return self.os == UNKNOWN and self.architecture == UNKNOWN

    def normalised(self) -> tuple[str, str, str | None]:
        return (self.os, self.architecture, self.variant or _DEFAULT_VARIANT.get(self.architecture))

    def same_as(self, other: Platform) -> bool:
        """True when a runtime would treat both as one platform (`linux/arm64` = `linux/arm64/v8`)."""
        return self.normalised() == other.normalised()

    def matches(self, oci: Mapping[str, Any] | None) -> bool:
        other = Platform.from_oci(oci)
        return other is not None and self.same_as(other)

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    def to_oci(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out


def format_platform(oci: Mapping[str, Any] | None) -> str:
    """`os/arch[/variant]` of a descriptor or config platform; `unknown` when it names none."""
    platform = Platform.from_oci(oci)
    return str(platform) if platform else UNKNOWN


def parse_platforms(values: str | Iterable[str]) -> list[Platform]:
    """A `--platform` list (comma-separated, possibly given several times), in the given order.
    Refuses empty items, duplicates and two spellings of one platform."""
    texts = [values] if isinstance(values, str) else list(values)
    out: list[Platform] = []
    seen: dict[tuple[str, str, str | None], str] = {}
    for text in texts:
        for item in text.split(","):
            if not item.strip():
                raise UsageError(f"empty entry in the platform list {text.strip()[:120]!r}",
                                 expected="platforms separated by single commas", fix=EXAMPLE)
            platform = Platform.parse(item)
            key = platform.normalised()
            if key in seen:
                first = seen[key]
                why = ("is listed twice" if first == item.strip()
                       else f"and {first!r} name the same platform")
                raise UsageError(f"the platform {item.strip()!r} {why}",
                                 expected="each platform once",
                                 found=", ".join(t.strip() for t in texts),
                                 fix=f"keep one of them ({Platform(*key)})")
            seen[key] = item.strip()
            out.append(platform)
    return out


__all__ = ["UNKNOWN", "Platform", "format_platform", "parse_platforms"]
