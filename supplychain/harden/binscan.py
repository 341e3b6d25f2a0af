"""Reading a Go binary for the system calls it can make (the `syscall-scan` tool) and finding
the binary an image runs.

`syscall-scan` (tools/syscall-scan, built by scripts/install-go-tools) disassembles every
function named in the binary's Go line table, so it works on stripped binaries (`-s -w`, as
sccheck builds them): the line table stays, because the Go runtime needs it for stack traces.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
from dataclasses import dataclass
from typing import Any

from supplychain.errors import CheckFailed, ImageError, ToolFailed
from supplychain.harden.sysnum import NAMES
from supplychain.image.filesystem import ImageFilesystem, PlatformImage, image_filesystem, normalise
from supplychain.image.store import ContentStore
from supplychain.tools import child_env, find_tool

MAX_BINARY = 512 * 1024 * 1024
MAX_SCAN_OUTPUT = 64 * 1024 * 1024
SCAN_TIMEOUT = 300
_SYMLINK_HOPS = 16

# Packages whose functions talk to the kernel on the runtime's behalf: their sites are "runtime".
_RUNTIME_PREFIXES = ("runtime.", "internal/runtime/")


@dataclass(frozen=True)
class BinaryScan:
    """What reading one binary found."""

    arch: str
    go_version: str
    cgo: bool
    stripped: bool
    dynamic: bool                    # has an ELF interpreter or needed libraries
    runtime_calls: frozenset[str]    # names, from the Go runtime's own sites
    program_calls: frozenset[str]    # names, from the syscall / x/sys/unix wrappers' call sites
    unknown_numbers: tuple[int, ...]  # numbers read that no table names (kept out of the profile)
    unresolved: tuple[str, ...]      # "func (callee)" of sites whose number could not be read
    wrappers: tuple[str, ...]
    symbols: frozenset[str]          # marker symbols (network types, exec, ...)
    functions: int

    @property
    def calls(self) -> frozenset[str]:
        return self.runtime_calls | self.program_calls

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "goVersion": self.go_version, "cgo": self.cgo, "stripped": self.stripped,
                "dynamic": self.dynamic, "functions": self.functions,
                "runtimeCalls": sorted(self.runtime_calls),
                "programCalls": sorted(self.program_calls - self.runtime_calls),
                "unknownNumbers": list(self.unknown_numbers), "unresolvedSites": list(self.unresolved),
                "wrappers": list(self.wrappers)}


def scan_binary(path: str, *, what: str) -> BinaryScan:
    """Run syscall-scan on `path`; `what` names the binary in errors ("/app/hello in IMAGE")."""
    tool = find_tool("syscall-scan")
    assert tool is not None
    try:
        proc = subprocess.run([tool, path], capture_output=True, timeout=SCAN_TIMEOUT, check=False,
                              env=child_env())
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"syscall-scan took more than {SCAN_TIMEOUT}s on {what}") from None
    stderr = proc.stderr.decode(errors="replace").strip()
    if proc.returncode == 1:
        why = stderr.removeprefix("syscall-scan: ")
        raise CheckFailed(f"cannot make a system call profile for {what}: {why}",
                          expected="a Go binary for linux/amd64 or linux/arm64 (stripped or not)",
                          found=stderr, fix="profiles are made by reading Go binaries; write one by hand "
                          "for other programs, or run with the runtime's default profile")
    if proc.returncode != 0 or len(proc.stdout) > MAX_SCAN_OUTPUT:
        raise ToolFailed(f"syscall-scan failed on {what}", facts={"exit": proc.returncode, "stderr": stderr})
    return parse_scan(json.loads(proc.stdout))


def parse_scan(doc: dict[str, Any]) -> BinaryScan:
    arch = str(doc["arch"])
    table = NAMES[arch]
    runtime: set[str] = set()
    program: set[str] = set()
    unknown: set[int] = set()
    for site in doc.get("sites") or []:
        number = int(site["number"])
        name = table.get(number)
        if name is None:
            unknown.add(number)
            continue
        (runtime if str(site["func"]).startswith(_RUNTIME_PREFIXES) else program).add(name)
    unresolved = sorted({f"{s['func']} -> {s.get('callee') or s['kind']}"
                         for s in doc.get("unresolved") or []})
    settings = doc.get("settings") or {}
    return BinaryScan(
        arch=arch, go_version=str(doc.get("goVersion") or ""),
        cgo=settings.get("CGO_ENABLED") == "1", stripped=bool(doc.get("stripped")),
        dynamic=bool(doc.get("interp") or doc.get("needed")),
        runtime_calls=frozenset(runtime), program_calls=frozenset(program),
        unknown_numbers=tuple(sorted(unknown)), unresolved=tuple(unresolved),
        wrappers=tuple(doc.get("wrappers") or []), symbols=frozenset(doc.get("symbols") or []),
        functions=int(doc.get("functions") or 0))


# -- the binary an image runs ---------------------------------------------------------------------

def entrypoint(image: PlatformImage) -> list[str]:
    config = image.config.get("config") or {}
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not argv:
        raise CheckFailed(f"the image for {image.platform} has no Entrypoint or Cmd",
                          fix="set ENTRYPOINT to the service binary")
    return [str(a) for a in argv]


def _resolve(fs: ImageFilesystem, path: str) -> str | None:
    for _ in range(_SYMLINK_HOPS):
        entry = fs.get(path)
        if entry is None:
            return None
        if entry.kind != "symlink":
            return entry.path
        target = entry.linkname
        if not target.startswith("/"):
            target = posixpath.join(posixpath.dirname(entry.path), target)
        path = normalise(target)
    return None


def _candidates(image: PlatformImage, program: str) -> list[str]:
    if "/" in program:
        workdir = str((image.config.get("config") or {}).get("WorkingDir") or "/")
        return [normalise(program if program.startswith("/") else posixpath.join(workdir, program))]
    env = [str(e) for e in (image.config.get("config") or {}).get("Env") or []]
    path_var = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/local/bin:/usr/bin:/bin")
    return [normalise(posixpath.join(d or "/", program)) for d in path_var.split(":")]


def read_entrypoint_binary(store: ContentStore, image: PlatformImage) -> tuple[str, bytes]:
    """The path (inside the image) and bytes of the program the image starts."""
    program = entrypoint(image)[0]
    candidates = _candidates(image, program)
    meta = image_filesystem(store, image, lambda _p: False)
    resolved = [r for r in (_resolve(meta, c) for c in candidates) if r]
    if not resolved:
        raise CheckFailed(f"the entrypoint {program!r} of the image for {image.platform} is not in the image",
                          expected=f"a file at {' or '.join(candidates)}", found="nothing",
                          fix="point ENTRYPOINT at the service binary")
    path = resolved[0]
    entry = meta.files[path]
    if entry.kind != "file" or entry.size > MAX_BINARY:
        raise CheckFailed(f"the entrypoint {path} is not a regular file of at most {MAX_BINARY} bytes",
                          found=f"{entry.kind}, {entry.size} bytes")
    fs = image_filesystem(store, image, lambda p: p == path, MAX_BINARY)
    data = fs.read(path)
    if data is None or len(data) != entry.size:
        raise ImageError(f"could not read {path} from the image for {image.platform}")
    return path, data
