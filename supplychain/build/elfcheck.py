"""Is a binary statically linked? Read its ELF headers (no external tool).

A dynamically linked binary names an interpreter (`PT_INTERP`, e.g. /lib64/ld-linux-x86-64.so.2)
and libraries (`DT_NEEDED`, e.g. libc.so.6). Neither exists in a scratch or static image, so
such a binary would fail at start with a bare "no such file or directory".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from supplychain.errors import BuildError

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5
MAX_PHDRS = 256
MAX_DYN_ENTRIES = 4096


@dataclass(frozen=True)
class Linkage:
    interpreter: str | None
    needed: tuple[str, ...]

    @property
    def is_static(self) -> bool:
        return self.interpreter is None and not self.needed


def _cstr(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    return data[offset:end if end >= 0 else len(data)].decode("utf-8", "replace")


def read_linkage(path: Path) -> Linkage:
    """Interpreter and needed libraries of an ELF file; raise BuildError if it is not ELF."""
    return linkage_of(path.read_bytes(), path.name)


def linkage_of(data: bytes, name: str) -> Linkage:
    """Interpreter and needed libraries of the ELF file `data` (called `name` in errors)."""
    if data[:4] != b"\x7fELF" or len(data) < 64:
        raise BuildError(f"{name} is not an ELF executable",
                         expected="a Linux ELF binary from 'go build'", found=repr(data[:4]))
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        phoff, = struct.unpack_from(end + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 0x36)
        phfmt = end + "IIQQQQQQ"  # type, flags, offset, vaddr, paddr, filesz, memsz, align
    else:
        phoff, = struct.unpack_from(end + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 0x2A)
        phfmt = end + "IIIIIIII"  # type, offset, vaddr, paddr, filesz, memsz, flags, align
    segments: list[tuple[int, int, int, int]] = []  # type, offset, vaddr, filesz
    for i in range(min(phnum, MAX_PHDRS)):
        fields = struct.unpack_from(phfmt, data, phoff + i * phentsize)
        if is64:
            ptype, _flags, off, vaddr, _paddr, filesz = fields[:6]
        else:
            ptype, off, vaddr, _paddr, filesz = fields[:5]
        segments.append((ptype, off, vaddr, filesz))
    interpreter = None
    needed: list[str] = []
    for ptype, off, _vaddr, filesz in segments:
        if ptype == PT_INTERP:
            interpreter = _cstr(data[off:off + filesz], 0)
        elif ptype == PT_DYNAMIC:
            needed.extend(_needed(data, segments, off, filesz, is64, end))
    return Linkage(interpreter, tuple(needed))


def _needed(data: bytes, segments: list[tuple[int, int, int, int]], off: int, size: int,
            is64: bool, end: str) -> list[str]:
    fmt = end + ("qQ" if is64 else "iI")
    step = struct.calcsize(fmt)
    name_offsets: list[int] = []
    strtab_addr = None
    for i in range(min(size // step, MAX_DYN_ENTRIES)):
        tag, value = struct.unpack_from(fmt, data, off + i * step)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            name_offsets.append(value)
        elif tag == DT_STRTAB:
            strtab_addr = value
    if not name_offsets:
        return []
    strtab = None
    for ptype, seg_off, vaddr, filesz in segments:
        if ptype == PT_LOAD and strtab_addr is not None and vaddr <= strtab_addr < vaddr + filesz:
            strtab = seg_off + (strtab_addr - vaddr)
    if strtab is None:
        return [f"<library #{n}>" for n in range(len(name_offsets))]
    return [_cstr(data, strtab + n) for n in name_offsets]


def require_static(path: Path, platform: str) -> None:
    """Raise BuildError naming the interpreter/libraries when `path` is dynamically linked."""
    linkage = read_linkage(path)
    if linkage.is_static:
        return
    found = []
    if linkage.interpreter:
        found.append(f"interpreter {linkage.interpreter}")
    if linkage.needed:
        found.append("libraries " + ", ".join(linkage.needed))
    raise BuildError(
        f"the {platform} binary {path.name} is dynamically linked, so it cannot run in a minimal image",
        expected="a statically linked binary (no interpreter, no shared libraries)",
        found="; ".join(found),
        fix="build with CGO_ENABLED=0 and drop imports of \"C\" (or packages that need cgo, such as "
            "mattn/go-sqlite3); do not pass -linkmode=external in --ldflags",
    )
