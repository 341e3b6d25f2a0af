"""`--cgo`: build with CGO_ENABLED=1 against a base image that carries a C library, and check
the binary's dynamic dependencies against that base before the image is made.

The C library is read from the base's layers: musl's dynamic loader is `ld-musl-ARCH.so.1`,
glibc's is `ld-linux*.so.N` (or `ld64.so.N`). The C compiler follows from it: gcc for glibc,
musl-gcc (Debian's musl-tools) for musl. Cross-compiling C needs a C compiler for the target:
`CC_FOR_<os>_<arch>` (e.g. CC_FOR_linux_arm64=aarch64-linux-gnu-gcc) names it, and without one a
platform other than the host's is refused. The same variable, when set, replaces the default
compiler for the host platform too.

After compiling, the ELF interpreter (PT_INTERP) and every DT_NEEDED library of the binary must
be in the base: the interpreter at the path the binary names, each library in the directories
the loader searches (glibc: /lib, /usr/lib, /lib64, /usr/lib64, the multiarch directories and
/etc/ld.so.conf; musl: /etc/ld-musl-ARCH.path, else /lib, /usr/local/lib, /usr/lib; musl's
loader is itself libc, libm, libpthread, libdl, librt, libutil and libxnet). Symbolic links are
followed inside the image, and so are the libraries' own DT_NEEDED entries (MAX_DEPTH levels;
a library larger than MAX_LIBRARY_BYTES is not read).
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from supplychain.build.bases import BaseImage, BaseLayer
from supplychain.build.elfcheck import Linkage, linkage_of
from supplychain.errors import BuildError, Error, UsageError
from supplychain.image.filesystem import FileEntry, ImageFilesystem, normalise, read_filesystem
from supplychain.image.platform import Platform

STATIC_BASES = ("scratch", "static")
GLIBC, MUSL = "glibc", "musl"
_MUSL_LOADER = re.compile(r"ld-musl-[a-z0-9_]+\.so\.1")
_GLIBC_LOADER = re.compile(r"ld-linux[a-z0-9_.-]*\.so\.\d|ld64\.so\.\d")
_LIB_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")
_MUSL_DEFAULT_PATH = ("/lib", "/usr/local/lib", "/usr/lib")
_MUSL_SELF = ("c", "m", "pthread", "dl", "rt", "util", "xnet")   # names musl's loader answers itself
_COMPILERS = {GLIBC: "gcc", MUSL: "musl-gcc"}
_PACKAGES = {GLIBC: "gcc", MUSL: "musl-tools"}
MAX_LINKS = 40
MAX_DEPTH = 8
MAX_LIBRARY_BYTES = 64 << 20


@dataclass(frozen=True)
class CTarget:
    """What one platform's cgo build runs with, and the base it is checked against."""

    platform: Platform
    libc: str                 # GLIBC or MUSL
    loader: str               # the loader's path in the base, e.g. /lib/ld-musl-x86_64.so.1
    cc: str                   # the C compiler go runs (CC)
    fs: ImageFilesystem       # the base's file system (entries; loader config contents)
    layers: tuple[BaseLayer, ...] = ()   # read again for the libraries' own dependencies

    def describe(self) -> str:
        return f"{self.libc} ({self.loader}), CC={self.cc}"


def refuse_static_base(base: str) -> None:
    """Before anything is compiled: a base without a C library cannot run a cgo binary."""
    if base in STATIC_BASES:
        raise UsageError(
            f"--cgo needs a base with a C library, and the {base} base has none",
            expected="a glibc or musl base (--base REF or --base oci:DIR) holding the C library's "
                     "dynamic loader and the libraries the binary links",
            found=f"--base {base}: no dynamic loader, no libc",
            fix="name a glibc base (e.g. a Debian image) or a musl base (e.g. Alpine) with --base, "
                "or drop --cgo and use pure-Go packages")


def _wanted(path: str) -> bool:
    return (path == "/etc/ld.so.conf" or path.startswith("/etc/ld.so.conf.d/")
            or (path.startswith("/etc/ld-musl-") and path.endswith(".path")))


def base_filesystem(base: BaseImage, platform: Platform) -> ImageFilesystem:
    return _read(base.name, platform, base.for_platform(platform).layers, _wanted, 1 << 16)


def _read(name: str, platform: Platform, layers: tuple[BaseLayer, ...], wanted: Callable[[str], bool],
          cap: int) -> ImageFilesystem:
    try:
        return read_filesystem((_layer_bytes(layer) for layer in layers), wanted, cap,
                               media_types=[layer.descriptor.media_type for layer in layers])
    except Error as exc:
        raise UsageError(f"cannot read the file system of the base {name} ({platform})",
                         expected="readable tar layers", found=exc.message,
                         fix="pick another --base") from None


def _layer_bytes(layer: BaseLayer) -> bytes:
    if layer.data is not None:
        return layer.data
    assert layer.store is not None
    return layer.store.read_blob(layer.descriptor)


def resolve(fs: ImageFilesystem, path: str) -> FileEntry | None:
    """The file `path` names in the image, symbolic links followed (at most MAX_LINKS, each
    inside the image); None when nothing is there."""
    pending = [part for part in normalise(path).split("/") if part]
    current = "/"
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in (".", ".."):
            current = current if part == "." else posixpath.dirname(current)
            continue
        candidate = normalise(posixpath.join(current, part))
        entry = fs.files.get(candidate)
        if entry is not None and entry.kind in ("symlink", "hardlink"):
            hops += 1
            if hops > MAX_LINKS:
                return None
            target = entry.linkname if entry.kind == "symlink" else "/" + entry.linkname.lstrip("/")
            pending = [p for p in target.split("/") if p] + pending
            current = "/" if target.startswith("/") else current
            continue
        current = candidate
    found = fs.files.get(current)
    return found if found is not None and found.kind == "file" else None


def find_loader(fs: ImageFilesystem) -> tuple[str, str] | None:
    """(libc, loader path) of the base, glibc first when an image carries both."""
    hits: dict[str, str] = {}
    for path in sorted(fs.files):
        directory, name = posixpath.split(path)
        if directory not in _LIB_DIRS:
            continue
        for libc, pattern in ((GLIBC, _GLIBC_LOADER), (MUSL, _MUSL_LOADER)):
            if libc not in hits and pattern.fullmatch(name) and resolve(fs, path) is not None:
                hits[libc] = path
    for libc in (GLIBC, MUSL):
        if libc in hits:
            return libc, hits[libc]
    return None


def cgo_precheck(base: str, platforms: list[Platform], env: dict[str, str] | None = None) -> None:
    """What can be refused before the base is read or anything compiled: a base without a C
    library, a platform without a C compiler."""
    refuse_static_base(base)
    for platform in platforms:
        _given_compiler(platform, None, env)


def _given_compiler(platform: Platform, libc: str | None, env: dict[str, str] | None) -> str | None:
    """CC_FOR_<os>_<arch> when set (it must be installed); None for the host platform without
    it; any other platform without it is refused."""
    env = dict(os.environ) if env is None else env
    variable = f"CC_FOR_{platform.os}_{platform.architecture}"
    given = env.get(variable, "").strip()
    makes = f"{libc} binaries" if libc else "binaries for the base's C library"
    if given:
        if shutil.which(given.split()[0]) is None:
            raise UsageError(f"{variable}={given} is not an installed program",
                             expected=f"a C compiler for {platform} that produces {makes}",
                             found=given, fix=f"install it or correct {variable}")
        return given
    if not platform.same_as(Platform.host()):
        raise UsageError(
            f"--cgo for {platform} needs a C compiler for {platform}",
            expected=f"the host's platform ({Platform.host()}), or {variable} naming a cross C "
                     f"compiler that produces {makes}",
            found=f"--platform {platform} and no {variable}",
            fix=f"build --cgo for {Platform.host()} only, or set {variable} (e.g. "
                f"{variable}={_cross_example(platform, libc or GLIBC)})")
    return None


def c_compiler(platform: Platform, libc: str, env: dict[str, str] | None = None) -> str:
    """The C compiler for `platform` and `libc`: CC_FOR_<os>_<arch> when set, else the host's
    gcc or musl-gcc for the host platform; any other platform is refused."""
    given = _given_compiler(platform, libc, env)
    if given:
        return given
    compiler = _COMPILERS[libc]
    if shutil.which(compiler) is None:
        variable = f"CC_FOR_{platform.os}_{platform.architecture}"
        raise UsageError(
            f"--cgo against a {libc} base needs {compiler}, which is not installed",
            expected=f"{compiler} on PATH", found="no such program",
            fix=f"install it (Debian: apt-get install {_PACKAGES[libc]}), or set {variable}")
    return compiler


def _cross_example(platform: Platform, libc: str) -> str:
    arch = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "ppc64le": "powerpc64le",
            "s390x": "s390x", "riscv64": "riscv64", "arm": "arm"}.get(platform.architecture,
                                                                      platform.architecture)
    suffix = "gnueabihf" if arch == "arm" else "gnu"
    return f"{arch}-linux-musl-gcc" if libc == MUSL else f"{arch}-linux-{suffix}-gcc"


def cgo_targets(base: BaseImage, platforms: list[Platform]) -> dict[Platform, CTarget]:
    """Each platform's C library and compiler, from the base; a base without a C library is
    refused (before anything is compiled)."""
    out: dict[Platform, CTarget] = {}
    for platform in platforms:
        fs = base_filesystem(base, platform)
        found = find_loader(fs)
        if found is None:
            raise UsageError(
                f"--cgo needs a base with a C library, and {base.name} ({platform}) has none",
                expected="a glibc loader (ld-linux*.so.*) or musl loader (ld-musl-*.so.1) in "
                         + ", ".join(_LIB_DIRS),
                found=f"{len(fs.files)} files in the base, no dynamic loader among them",
                fix="name a glibc base (e.g. a Debian image) or a musl base (e.g. Alpine) with --base, "
                    "or drop --cgo and use pure-Go packages")
        libc, loader = found
        out[platform] = CTarget(platform, libc, loader, c_compiler(platform, libc), fs,
                                base.for_platform(platform).layers)
    return out


def search_dirs(target: CTarget) -> list[str]:
    """Where the base's loader looks for a DT_NEEDED library, in order."""
    fs = target.fs
    if target.libc == MUSL:
        name = posixpath.basename(target.loader).removeprefix("ld-musl-").removesuffix(".so.1")
        config = fs.read(f"/etc/ld-musl-{name}.path")
        if config is not None:
            return _unique(d for d in re.split(r"[:\n]", config.decode("utf-8", "replace")) if d.strip())
        return list(_MUSL_DEFAULT_PATH)
    dirs = [*_LIB_DIRS]
    for root in ("/lib", "/usr/lib"):
        dirs += sorted({posixpath.dirname(p) for p in fs.files
                        if posixpath.dirname(p).startswith(root + "/")
                        and re.fullmatch(r"[a-z0-9_]+-linux-gnu[a-z0-9_]*",
                                         posixpath.basename(posixpath.dirname(p)))})
    for path in ["/etc/ld.so.conf", *sorted(p for p in fs.contents if p.startswith("/etc/ld.so.conf.d/"))]:
        text = fs.read(path)
        if text is not None:
            dirs += [line.strip() for line in text.decode("utf-8", "replace").splitlines()
                     if line.strip().startswith("/")]
    return _unique(dirs)


def _unique(dirs: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(normalise(d.strip()) for d in dirs))


def _served_by_musl(name: str) -> bool:
    return any(name == f"lib{lib}.so" or name.startswith((f"lib{lib}.so.", f"lib{lib}.musl-"))
               for lib in _MUSL_SELF)


def _find(target: CTarget, name: str, dirs: list[str]) -> FileEntry | None:
    if "/" in name:
        return resolve(target.fs, name)
    return next((e for d in dirs if (e := resolve(target.fs, f"{d}/{name}")) is not None), None)


def _contents(target: CTarget, paths: set[str]) -> dict[str, bytes]:
    return _read("image", target.platform, target.layers, paths.__contains__, MAX_LIBRARY_BYTES).contents


def missing(linkage: Linkage, target: CTarget) -> list[str]:
    """The interpreter and libraries of `linkage` the base does not have, the libraries' own
    dependencies included ("libz.so.1 (needed by libpng16.so.16)")."""
    out = []
    if linkage.interpreter is not None and resolve(target.fs, linkage.interpreter) is None:
        out.append(linkage.interpreter)
    dirs = search_dirs(target)
    seen: set[str] = set()
    level: list[tuple[str, str | None]] = [(name, None) for name in linkage.needed]
    for _ in range(MAX_DEPTH):
        found: dict[str, str] = {}           # the library's path in the base -> its name
        for name, via in level:
            if name in seen or (target.libc == MUSL and _served_by_musl(name)):
                continue
            seen.add(name)
            entry = _find(target, name, dirs)
            if entry is None:
                out.append(name if via is None else f"{name} (needed by {via})")
            elif entry.size <= MAX_LIBRARY_BYTES:
                found[entry.path] = name
        if not found or not target.layers:
            break
        contents = _contents(target, set(found))
        level = []
        for path, name in found.items():
            try:
                level += [(needed, name) for needed in linkage_of(contents.get(path, b""), name).needed]
            except BuildError:                # not ELF (a linker script?): nothing to follow
                continue
    return out


def require_runnable(linkage: Linkage, target: CTarget, base: str, binary: str) -> None:
    """Raise a UsageError naming what the binary needs and the base lacks."""
    if linkage.is_static:
        return
    gone = missing(linkage, target)
    if not gone:
        return
    what = ", ".join(gone)
    raise UsageError(
        f"the {target.platform} binary {binary} needs {what}, which the base {base} does not have",
        expected=f"the loader {linkage.interpreter or '(none)'} and the libraries "
                 f"{', '.join(linkage.needed) or '(none)'} in the base ({target.libc}; libraries "
                 "searched in " + ", ".join(search_dirs(target)) + ")",
        found=f"missing from {base}: {what}",
        fix=f"use a base that has {what} (or add the package that provides it to the base image), "
            "or drop the C dependency that links it")
