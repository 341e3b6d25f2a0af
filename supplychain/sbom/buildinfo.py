"""Go build info read from an ELF binary in pure Python (no `go` needed).

Go ≥ 1.18 writes a 32-byte header into the `.go.buildinfo` section: the magic
`\\xff Go buildinf:`, the pointer size, a flags byte (bit 1: strings are inline, bit 0: big
endian), padding; then two uvarint-length-prefixed strings: the Go version and the module info
text (framed by 16-byte sentinels). Older, pointer-based layouts are refused with a clear error.
The module info text has lines `path`, `mod`, `dep`, `=>` (a replacement of the line before)
and `build KEY=VALUE` (key and value Go-quoted when they hold spaces, tabs, quotes or `=`).
"""

from __future__ import annotations

import re
import shlex
import struct
from dataclasses import dataclass

from supplychain.errors import SbomError

MAGIC = b"\xff Go buildinf:"
ELF_MAGIC = b"\x7fELF"
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
_MAX_STRING = 4 * 1024 * 1024
_VERSION_RE = re.compile(r"^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.+-]*)?$")
_UNSTRIP_HINT = ("build it with Go ≥ 1.18 without stripping the build info (go build keeps it by "
                 "default; -ldflags='-s -w' is fine)")


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    sum: str = ""                       # the `h1:` hash from go.sum, "" when unknown
    replace: Module | None = None       # what the build really used


@dataclass(frozen=True)
class BuildInfo:
    go_version: str                     # "go1.26.8"
    path: str                           # main package path
    main: Module
    deps: tuple[Module, ...]
    settings: tuple[tuple[str, str], ...]

    def setting(self, key: str) -> str | None:
        for k, v in self.settings:
            if k == key:
                return v
        return None


# -- the module info text ---------------------------------------------------------------------
def _go_unquote(text: str) -> tuple[str, str]:
    """Unquote the Go string literal at the start of `text`; return (value, rest)."""
    if not text.startswith('"'):
        raise ValueError("not a quoted string")
    out = bytearray()
    i = 1
    simple = {"n": 10, "t": 9, "r": 13, '"': 34, "\\": 92, "'": 39, "a": 7, "b": 8, "f": 12, "v": 11}
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return out.decode("utf-8", "replace"), text[i + 1:]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        esc = text[i + 1:i + 2]
        if esc in simple:
            out.append(simple[esc])
            i += 2
        elif esc == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        elif esc in ("u", "U"):
            width = 4 if esc == "u" else 8
            out += chr(int(text[i + 2:i + 2 + width], 16)).encode()
            i += 2 + width
        elif esc.isdigit():
            out.append(int(text[i + 1:i + 4], 8))
            i += 4
        else:
            raise ValueError(f"bad escape \\{esc}")
    raise ValueError("unterminated quoted string")


def _module(fields: list[str], line: str) -> Module:
    if len(fields) < 2:
        raise ValueError(f"module line needs a path and a version: {line!r}")
    return Module(fields[0], fields[1], fields[2] if len(fields) > 2 else "")


def parse_modinfo(go_version: str, text: str) -> BuildInfo:
    """Parse the module info text (the same text `go version -m` prints, without the tabs in front)."""
    path = ""
    main: Module | None = None
    deps: list[Module] = []
    settings: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip("\n")
        if not line.strip():
            continue
        head, _, rest = line.lstrip("\t").partition("\t")
        try:
            if head == "path":
                path = rest
            elif head == "mod":
                main = _module(rest.split("\t"), line)
            elif head == "dep":
                deps.append(_module(rest.split("\t"), line))
            elif head == "=>":
                fields = rest.split("\t")
                repl = Module(fields[0], fields[1] if len(fields) > 1 else "",
                              fields[2] if len(fields) > 2 else "")
                if deps:
                    last = deps.pop()
                    deps.append(Module(last.path, last.version, last.sum, repl))
                elif main is not None:
                    main = Module(main.path, main.version, main.sum, repl)
                else:
                    raise ValueError("a replacement (=>) before any module")
            elif head == "build":
                if rest.startswith('"'):
                    key, after = _go_unquote(rest)
                    if not after.startswith("="):
                        raise ValueError(f"build setting without '=': {line!r}")
                    value_text = after[1:]
                else:
                    key, sep, value_text = rest.partition("=")
                    if not sep:
                        raise ValueError(f"build setting without '=': {line!r}")
                value = _go_unquote(value_text)[0] if value_text.startswith('"') else value_text
                settings.append((key, value))
            elif head == "go":
                go_version = go_version or rest
            else:
                raise ValueError(f"unknown line {line!r}")
        except (ValueError, IndexError) as exc:
            raise SbomError(
                "the Go build info is malformed",
                expected="lines 'path', 'mod', 'dep', '=>' and 'build KEY=VALUE'",
                found=str(exc)[:300],
                fix="rebuild the binary with a released Go toolchain",
            ) from None
    if main is None:
        main = Module(path, "(devel)") if path else Module("", "")
    return BuildInfo(go_version, path, main, tuple(deps), tuple(settings))


def parse_go_version_m(output: str) -> BuildInfo:
    """Parse `go version -m BINARY` output (used by the tests as an independent cross-check)."""
    first, _, rest = output.partition("\n")
    go_version = first.rsplit(" ", 1)[-1].strip()
    return parse_modinfo(go_version, rest)


# -- ELF ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Section:
    name: str
    type: int
    addr: int
    offset: int
    size: int
    link: int


class _Elf:
    def __init__(self, data: bytes, what: str) -> None:
        if data[:4] != ELF_MAGIC or len(data) < 52:
            raise SbomError(
                f"{what} is not an ELF executable",
                expected="a Linux Go binary (ELF, starting with \\x7fELF)",
                found=f"first bytes {data[:8]!r}",
                fix="point sccheck sbom at a Go binary, an image or a Go source directory",
            )
        self.data = data
        self.is64 = data[4] == 2
        self.endian = ">" if data[5] == 2 else "<"
        e = self.endian
        try:
            if self.is64:
                shoff, = struct.unpack_from(e + "Q", data, 0x28)
                shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x3A)
            else:
                shoff, = struct.unpack_from(e + "I", data, 0x20)
                shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x2E)
            self.sections = self._read_sections(shoff, shentsize, shnum, shstrndx)
        except (struct.error, IndexError, UnicodeDecodeError):
            self.sections = []  # a truncated or stripped header: fall back to scanning

    def _read_sections(self, shoff: int, entsize: int, num: int, strndx: int) -> list[_Section]:
        if shoff == 0 or num == 0 or num > 10_000:
            return []
        e = self.endian
        raw = []
        for i in range(num):
            off = shoff + i * entsize
            layout = e + ("IIQQQQI" if self.is64 else "IIIIIII")
            name, typ, _flags, addr, offset, size, link = struct.unpack_from(layout, self.data, off)
            raw.append((name, typ, addr, offset, size, link))
        strtab = raw[strndx] if strndx < len(raw) else None
        out = []
        for name, typ, addr, offset, size, link in raw:
            label = ""
            if strtab is not None:
                start = strtab[3] + name
                end = self.data.find(b"\0", start, start + 256)
                label = self.data[start:end].decode() if end >= 0 else ""
            out.append(_Section(label, typ, addr, offset, size, link))
        return out

    def section(self, name: str) -> _Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def read_vaddr(self, addr: int, size: int) -> bytes | None:
        for s in self.sections:
            if s.type != 8 and s.addr and s.addr <= addr and addr + size <= s.addr + s.size:  # 8: NOBITS
                start = s.offset + (addr - s.addr)
                return self.data[start:start + size]
        return None

    def symbol_values(self, names: set[str]) -> dict[str, tuple[int, int]]:
        """name -> (address, size) for the given symbols of .symtab (empty when stripped)."""
        symtab = self.section(".symtab")
        if symtab is None or symtab.link >= len(self.sections):
            return {}
        strtab = self.sections[symtab.link]
        wanted = {n.encode() for n in names}
        entsize = 24 if self.is64 else 16
        found: dict[str, tuple[int, int]] = {}
        e = self.endian
        for off in range(symtab.offset, symtab.offset + symtab.size - entsize + 1, entsize):
            if self.is64:
                name, _info, _other, _shndx, value, size = struct.unpack_from(e + "IBBHQQ", self.data, off)
            else:
                name, value, size, _info, _other, _shndx = struct.unpack_from(e + "IIIBBH", self.data, off)
            start = strtab.offset + name
            end = self.data.find(b"\0", start, start + 512)
            label = self.data[start:end]
            if label in wanted:
                found[label.decode()] = (value, size)
        return found


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated varint")


def _find_header(elf: _Elf) -> int:
    section = elf.section(".go.buildinfo")
    if section is not None and elf.data[section.offset:section.offset + len(MAGIC)] == MAGIC:
        return section.offset
    # No section headers: the header is 16-byte aligned and, unlike a copy of the magic that a
    # program may hold as a string constant, followed by a sane flags byte and a "go" version.
    first = -1
    pos = elf.data.find(MAGIC)
    while pos >= 0:
        if pos % 16 == 0:
            if first < 0:
                first = pos
            if elf.data[pos + 15:pos + 16] in (b"\x02", b"\x03") and elf.data[pos + 33:pos + 35] == b"go":
                return pos
        pos = elf.data.find(MAGIC, pos + 1)
    return first


def read_buildinfo(data: bytes, what: str = "the file") -> BuildInfo:
    """The build info embedded in a Go ELF binary; SbomError when there is none or it is unreadable."""
    elf = _Elf(data, what)
    start = _find_header(elf)
    if start < 0:
        raise SbomError(
            f"{what} has no Go build info",
            expected="a Go binary with a .go.buildinfo section (magic '\\xff Go buildinf:')",
            found="an ELF file without it (not a Go program, or the build info was stripped)",
            fix=_UNSTRIP_HINT,
        )
    header = data[start:start + 32]
    flags = header[15] if len(header) == 32 else 0
    if not flags & _FLAG_INLINE:
        raise SbomError(
            f"{what} uses the pointer-based build info of Go < 1.18, which sccheck does not read",
            expected="build info with inline strings (Go 1.18 or newer)",
            found=f"flags byte {flags:#x}",
            fix="rebuild with a current Go toolchain, or inspect it with 'go version -m'",
        )
    try:
        pos = start + 32
        vlen, pos = _uvarint(data, pos)
        if vlen > _MAX_STRING or pos + vlen > len(data):
            raise ValueError("the Go version string runs past the end")
        go_version = data[pos:pos + vlen].decode()
        pos += vlen
        mlen, pos = _uvarint(data, pos)
        if mlen > _MAX_STRING or pos + mlen > len(data):
            raise ValueError("the module info runs past the end")
        modinfo = data[pos:pos + mlen]
    except (ValueError, UnicodeDecodeError) as exc:
        raise SbomError(
            f"the Go build info of {what} is corrupt",
            expected="two length-prefixed strings after the build info header",
            found=str(exc), fix=_UNSTRIP_HINT,
        ) from None
    if not go_version.startswith("go"):
        raise SbomError(f"the Go build info of {what} is corrupt", expected="a version like go1.26.1",
                        found=repr(go_version[:60]), fix=_UNSTRIP_HINT)
    if len(modinfo) >= 33 and modinfo[-17] == 0x0A:
        modinfo = modinfo[16:-16]
    return parse_modinfo(go_version, modinfo.decode("utf-8", "replace"))


def ldflags_versions(info: BuildInfo) -> dict[str, str]:
    """`-X pkg.name=value` pairs from the recorded -ldflags (absent when built with -trimpath)."""
    flags = info.setting("-ldflags")
    if not flags:
        return {}
    try:
        words = shlex.split(flags)
    except ValueError:
        words = flags.split()
    out: dict[str, str] = {}
    for i, word in enumerate(words):
        assignment = None
        if word in ("-X", "--X") and i + 1 < len(words):
            assignment = words[i + 1]
        elif word.startswith(("-X=", "--X=")):
            assignment = word.split("=", 1)[1]
        if assignment and "=" in assignment:
            name, value = assignment.split("=", 1)
            out[name] = value
    return out


def _version_like(value: str) -> bool:
    return bool(_VERSION_RE.match(value))


def _candidate_names(info: BuildInfo) -> list[str]:
    names = []
    for var in ("version", "Version", "VERSION", "gitVersion", "GitVersion"):
        names.append(f"main.{var}")
        if info.main.path:
            for pkg in ("", "/version", "/internal/version", "/pkg/version", "/cmd"):
                names.append(f"{info.main.path}{pkg}.{var}")
    return names


def injected_version(info: BuildInfo, data: bytes | None = None) -> tuple[str, str] | None:
    """A version injected with `-X <pkg>.version=...`: (value, where it was found) or None.

    Looks in the recorded -ldflags first; when they were not recorded (-trimpath) and the binary
    still has its symbol table, reads the string variable itself.
    """
    candidates = _candidate_names(info)
    flags = ldflags_versions(info)
    for name in candidates:
        if name in flags and _version_like(flags[name]):
            return flags[name], f"-ldflags -X {name}"
    if data is None:
        return None
    elf = _Elf(data, "the binary")
    symbols = elf.symbol_values(set(candidates))
    ptr = 8 if elf.is64 else 4
    fmt = elf.endian + ("QQ" if elf.is64 else "II")
    for name in candidates:
        if name not in symbols:
            continue
        addr, size = symbols[name]
        header = elf.read_vaddr(addr, 2 * ptr) if size == 2 * ptr else None
        if header is None:
            continue
        sptr, slen = struct.unpack(fmt, header)
        if not 0 < slen <= 256:
            continue
        raw = elf.read_vaddr(sptr, slen)
        if raw is None:
            continue
        value = raw.decode("utf-8", "replace")
        if _version_like(value):
            return value, f"the string variable {name} in the binary"
    return None
