"""OS packages of a base image: Alpine's apk database and Debian's dpkg status files.

- Alpine: `/lib/apk/db/installed`, blocks of `K:value` lines separated by blank lines
  (`P` name, `V` version, `A` arch, `L` license, `o` origin, `D` dependencies).
- Debian: `/var/lib/dpkg/status` (RFC 822 paragraphs; only `Status: ... installed` counts) and
  `/var/lib/dpkg/status.d/*` (one file per package, as distroless images ship them).

purls: `pkg:apk/<distro id>/<name>@<version>?arch=<arch>[&distro=<id>-<version id>]` and
`pkg:deb/<distro id>/<name>@<version>?arch=<arch>[&distro=...]`; the distro comes from
`/etc/os-release` (then `/usr/lib/os-release`) when the image has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from packageurl import PackageURL

from supplychain.errors import SbomError

APK_DB = "/lib/apk/db/installed"
DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_STATUS_D = "/var/lib/dpkg/status.d/"
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
MAX_PACKAGES = 50_000


@dataclass(frozen=True)
class OsPackage:
    ecosystem: str              # "apk" | "deb"
    name: str
    version: str
    arch: str
    license: str = ""
    source: str = ""            # apk origin / deb Source
    depends: tuple[str, ...] = ()
    db_path: str = ""           # where it was found in the image
    distro: str = ""            # os-release ID (alpine, debian, ubuntu, ...)
    distro_version: str = ""    # os-release VERSION_ID

    @property
    def purl(self) -> PackageURL:
        namespace = self.distro or ("alpine" if self.ecosystem == "apk" else "debian")
        qualifiers = {"arch": self.arch} if self.arch else {}
        if self.distro and self.distro_version:
            qualifiers["distro"] = f"{self.distro}-{self.distro_version}"
        return PackageURL(type=self.ecosystem, namespace=namespace, name=self.name,
                          version=self.version, qualifiers=qualifiers)


def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            out[key] = value.strip().strip("\"'")
    return out


def _depends_names(text: str) -> tuple[str, ...]:
    """`a (>= 1), b | c, so:libc.musl-x86_64.so.1` -> names (alternatives and virtuals kept as written)."""
    names = []
    for part in text.replace("|", ",").replace(" ", ",").split(","):
        word = part.strip()
        if not word or word.startswith(("(", "<", ">", "=")) or word.endswith(")") or word[0].isdigit():
            continue
        word = word.split("=")[0].split(">")[0].split("<")[0].split("~")[0]
        if word and not word.startswith("!"):
            names.append(word.split(":")[0] if ":any" in word else word)
    return tuple(dict.fromkeys(names))


def parse_apk_installed(text: str, db_path: str = APK_DB) -> list[OsPackage]:
    packages: list[OsPackage] = []
    for number, block in enumerate(text.split("\n\n")):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) >= 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:]
        if not fields:
            continue
        if "P" not in fields or "V" not in fields:
            raise SbomError(
                f"the apk database {db_path} is malformed",
                expected="every package block to have P: (name) and V: (version) lines",
                found=f"block {number + 1} without them: {block[:120]!r}",
                fix="the image's /lib/apk/db/installed is damaged; rebuild the base image",
            )
        packages.append(OsPackage("apk", fields["P"], fields["V"], fields.get("A", ""),
                                  license=fields.get("L", ""), source=fields.get("o", ""),
                                  depends=_depends_names(fields.get("D", "")), db_path=db_path))
        if len(packages) > MAX_PACKAGES:
            raise SbomError(f"{db_path} lists more than {MAX_PACKAGES} packages")
    return packages


def _deb_paragraphs(text: str) -> list[dict[str, str]]:
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, ""
        elif line[0] in " \t":
            if key:
                current[key] += "\n" + line.strip()
        else:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            key = name.strip()
            current[key] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def parse_dpkg_status(text: str, db_path: str = DPKG_STATUS) -> list[OsPackage]:
    packages: list[OsPackage] = []
    for para in _deb_paragraphs(text):
        if "Package" not in para:
            continue
        status = para.get("Status")
        if status is not None and status.split()[-1:] != ["installed"]:
            continue  # removed, half-installed, config-files only
        if "Version" not in para:
            raise SbomError(
                f"the dpkg status file {db_path} is malformed",
                expected="a Version field in every package paragraph",
                found=f"package {para['Package']!r} without one",
                fix="the image's dpkg database is damaged; rebuild the base image",
            )
        source = para.get("Source", "").split(" ")[0]
        packages.append(OsPackage("deb", para["Package"], para["Version"], para.get("Architecture", ""),
                                  source=source, depends=_depends_names(para.get("Depends", "")),
                                  db_path=db_path))
        if len(packages) > MAX_PACKAGES:
            raise SbomError(f"{db_path} lists more than {MAX_PACKAGES} packages")
    return packages


def is_os_db_path(path: str) -> bool:
    return (path in (APK_DB, DPKG_STATUS) or path in OS_RELEASE
            or (path.startswith(DPKG_STATUS_D) and not path.endswith(".md5sums")))


def read_os_release(read: Callable[[str], bytes | None]) -> dict[str, str]:
    for candidate in OS_RELEASE:
        raw = read(candidate)
        if raw is not None:
            return parse_os_release(raw.decode("utf-8", "replace"))
    return {}


def os_packages(paths: list[str], read: Callable[[str], bytes | None]) -> list[OsPackage]:
    """Every OS package of a file system, given its file list and a reader for wanted files."""
    release = read_os_release(read)
    found: list[OsPackage] = []
    apk = read(APK_DB)
    if apk is not None:
        found += parse_apk_installed(apk.decode("utf-8", "replace"))
    status = read(DPKG_STATUS)
    if status is not None:
        found += parse_dpkg_status(status.decode("utf-8", "replace"))
    for path in sorted(p for p in paths if p.startswith(DPKG_STATUS_D) and is_os_db_path(p)):
        raw = read(path)
        if raw is not None:
            found += parse_dpkg_status(raw.decode("utf-8", "replace"), path)
    distro = release.get("ID", "")
    version = release.get("VERSION_ID", "")
    out: dict[str, OsPackage] = {}
    for pkg in found:
        with_distro = OsPackage(pkg.ecosystem, pkg.name, pkg.version, pkg.arch, pkg.license, pkg.source,
                                pkg.depends, pkg.db_path, distro, version)
        out.setdefault(with_distro.purl.to_string(), with_distro)
    return list(out.values())
