"""Compile a Go module into a static binary per platform: CGO off, -trimpath, stripped,
no build id, version injected with -X, and VCS info recorded (-buildvcs=true). With a C compiler
(`--cgo`, supplychain/build/cgo.py) CGO is on and the binary links the base's C library."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from supplychain import resultcache
from supplychain.build.elfcheck import require_static
from supplychain.errors import BuildError, UsageError
from supplychain.gomodule import find_module_root, module_root
from supplychain.image.platform import Platform
from supplychain.progress import Progress
from supplychain.tools import child_env, find_tool

_ARCHES = {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"}
COMPILE_TIMEOUT = 900


def require_buildable(platform: Platform) -> Platform:
    """The platforms the Go compiler builds static binaries for here: linux/<arch>[/v5-v8]."""
    if platform.os != "linux" or platform.architecture not in _ARCHES:
        raise UsageError(
            f"unsupported platform {str(platform)!r}",
            expected="linux/<arch>[/<variant>] with arch one of " + ", ".join(sorted(_ARCHES)),
            fix="e.g. --platform linux/amd64,linux/arm64",
        )
    if platform.variant and not re.fullmatch(r"v[5-8]", platform.variant):
        raise UsageError(f"unsupported platform variant in {str(platform)!r}", expected="v5, v6, v7 or v8")
    return platform


def go_env(platform: Platform) -> dict[str, str]:
    env = {"GOOS": platform.os, "GOARCH": platform.architecture}
    if platform.architecture == "arm" and platform.variant:
        env["GOARM"] = platform.variant[1:]
    return env


@dataclass(frozen=True)
class GoModule:
    root: Path
    path: str          # module path from go.mod

    @property
    def binary_name(self) -> str:
        return binary_name(self.path)


def binary_name(import_path: str) -> str:
    """The name `go build` gives a main package's binary: its last path element, or the one
    before a major-version suffix (example.com/app/v2 -> app)."""
    parts = import_path.rstrip("/").split("/")
    last = parts[-1]
    if re.fullmatch(r"v\d+", last) and len(parts) > 1:
        last = parts[-2]
    return re.sub(r"[^A-Za-z0-9._-]", "-", last) or "app"


def find_module(path: str | os.PathLike[str]) -> GoModule:
    root, module = module_root(path)
    return GoModule(root, module)


def locate(path: str | os.PathLike[str]) -> tuple[GoModule, str]:
    """The module holding the directory `path` (found upwards, as `go` does) and the package
    `path` names inside it ("." at the root, "./cmd/server" below it)."""
    root, module = find_module_root(path)
    rel = Path(path).resolve().relative_to(root)
    return GoModule(root, module), "." if str(rel) == "." else "./" + rel.as_posix()


def ldflags(version: str, version_var: str, extra: str = "", xvars: tuple[str, ...] = ()) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*", version_var):
        raise UsageError(f"invalid --version-var {version_var!r}",
                         expected="an import path and a variable name, e.g. main.version")
    if not re.fullmatch(r"[A-Za-z0-9._+~-]{1,128}", version):
        raise UsageError(f"invalid --version {version!r}",
                         expected="letters, digits and . _ + ~ - (at most 128 characters)")
    flags = " ".join([f"-s -w -buildid= -X {version_var}={version}", *(f"-X {x}" for x in xvars)])
    return f"{flags} {extra}".strip()


# GOFLAGS entries: passed on to go as they are, folded into our own flags, or refused (a flag
# that would undo what the image promises is an error, never silently dropped).
_GOFLAGS_PASS = {"-mod", "-modcacherw", "-modfile", "-p", "-v", "-x", "-gcflags", "-asmflags",
                 "-pgo", "-overlay", "-work", "-a", "-n", "-cover", "-covermode", "-coverpkg"}
_GOFLAGS_REFUSED = {
    "-buildvcs": "the image's revision comes from the VCS stamp (-buildvcs=true)",
    "-trimpath": "reproducible binaries need -trimpath",
    "-race": "a race-enabled binary needs cgo", "-msan": "needs cgo", "-asan": "needs cgo",
    "-buildmode": "the image carries one static executable", "-linkshared": "needs shared libraries",
    "-compiler": "only the gc toolchain is supported", "-o": "sccheck names the output",
}


@dataclass(frozen=True)
class GoFlags:
    passed: str = ""                 # what stays in GOFLAGS for the go command
    tags: tuple[str, ...] = ()       # -tags from GOFLAGS, added to --tags
    ldflags: str = ""                # -ldflags from GOFLAGS, appended to --ldflags


def parse_goflags(value: str | None) -> GoFlags:
    """GOFLAGS as `go` reads it: space-separated -flag[=value] entries."""
    passed: list[str] = []
    tags: list[str] = []
    extra: list[str] = []
    for entry in (value or "").split():
        name, _, val = entry.lstrip("-").partition("=")
        flag = "-" + name
        if flag == "-tags":
            tags += [t for t in re.split(r"[ ,]", val) if t]
        elif flag == "-ldflags":
            extra.append(val)
        elif flag in _GOFLAGS_REFUSED and not (flag == "-buildvcs" and val in ("true", "")) \
                and not (flag == "-trimpath" and val in ("true", "")):
            raise UsageError(f"GOFLAGS={value!r} has {entry}, which sccheck build cannot honour",
                             expected="GOFLAGS without " + flag, found=f"{entry}: {_GOFLAGS_REFUSED[flag]}",
                             fix="unset GOFLAGS for the build (or drop that entry); --tags and --ldflags "
                                 "take build tags and linker flags")
        elif flag in _GOFLAGS_PASS or flag in ("-buildvcs", "-trimpath"):
            passed.append(entry)
        else:
            raise UsageError(f"GOFLAGS={value!r} has {entry}, which sccheck build does not know",
                             expected="GOFLAGS entries among "
                                      + ", ".join(sorted(_GOFLAGS_PASS | {"-tags", "-ldflags"})),
                             found=entry, fix="unset GOFLAGS for the build, or pass the setting as a flag")
    return GoFlags(" ".join(passed), tuple(tags), " ".join(extra))


@dataclass(frozen=True)
class CompileRequest:
    module: GoModule
    package: str = "."
    version: str = "dev"
    version_var: str = "main.version"
    extra_ldflags: str = ""
    tags: tuple[str, ...] = ()
    xvars: tuple[str, ...] = ()
    goflags: str = ""

    @property
    def ldflags(self) -> str:
        return ldflags(self.version, self.version_var, self.extra_ldflags, self.xvars)


@dataclass(frozen=True)
class CompiledBinary:
    platform: Platform
    path: Path
    seconds: float


def go_build_argv(req: CompileRequest, output: Path) -> list[str]:
    argv = [find_tool("go") or "go", "build", "-trimpath", "-buildvcs=true", "-ldflags", req.ldflags]
    if req.tags:
        argv += ["-tags", ",".join(req.tags)]
    return [*argv, "-o", str(output), req.package]


PROGRESS_EVERY = 10.0
CANCEL_POLL = 0.05     # how soon a cancelled compile notices


class BuildCancelled(BuildError):
    """A compile stopped because another step of the same build failed (its error is the one
    reported)."""


def compile_binary(req: CompileRequest, platform: Platform, output: Path,
                   progress: Progress | None = None, cc: str | None = None,
                   cancel: threading.Event | None = None) -> CompiledBinary:
    """Run go build for one platform and check that the result is statically linked, or, with
    a C compiler `cc`, build with cgo (the caller checks the binary against its base). A compile
    that runs long says so every PROGRESS_EVERY seconds; one whose `cancel` is set is stopped
    (the go process killed) and raises BuildCancelled."""
    cgo = {"CGO_ENABLED": "1", "CC": cc} if cc else {"CGO_ENABLED": "0"}
    env = child_env(extra={**go_env(platform), **cgo, "GOFLAGS": req.goflags, "GOTOOLCHAIN": "local"})
    argv = go_build_argv(req, output)
    began = time.monotonic()
    # go's own work directory sits in one of ours, so a compile killed before go could remove it
    # leaves nothing behind (GOTMPDIR changes no byte of the binary, nor what go caches).
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory(prefix="sccheck-go-") as work:
        env["GOTMPDIR"] = work
        proc = subprocess.Popen(argv, cwd=req.module.root, env=env, stdout=log, stderr=subprocess.STDOUT)
        # This thread blocks in wait() (woken the moment go exits: a wait with a timeout polls,
        # and its sleeps cost up to 50 ms per compile); a watcher reports progress and stops a
        # compile that is cancelled or runs too long.
        ended = threading.Event()
        stopped: list[BuildError] = []
        watcher = threading.Thread(target=_watch, name="sccheck-compile-watch", daemon=True,
                                   args=(proc, ended, stopped, cancel, began, f"{platform} {req.package}",
                                         progress))
        watcher.start()
        try:
            proc.wait()
        finally:
            ended.set()
            watcher.join()
        if stopped:
            raise stopped[0]
        log.seek(0)
        text = log.read(1 << 20).decode("utf-8", errors="replace")
    if proc.returncode != 0:
        raise compile_error(req, platform, argv, text, cgo=cc is not None)
    if cc is None:
        require_static(output, str(platform))
    return CompiledBinary(platform, output, time.monotonic() - began)


def _watch(proc: subprocess.Popen[bytes], ended: threading.Event, stopped: list[BuildError],
           cancel: threading.Event | None, began: float, what: str, progress: Progress | None) -> None:
    said = began
    interval = min(PROGRESS_EVERY, CANCEL_POLL) if cancel is not None else PROGRESS_EVERY
    while not ended.wait(interval):
        now = time.monotonic()
        if cancel is not None and cancel.is_set():
            why: BuildError = BuildCancelled(f"go build for {what} stopped: the build failed in another step")
        elif now - began > COMPILE_TIMEOUT:
            why = BuildError(f"go build for {what} took longer than {COMPILE_TIMEOUT}s",
                             fix="check for a hung module download (offline? vendor the modules)")
        else:
            if progress is not None and now - said >= PROGRESS_EVERY:
                said = now
                progress.info(f"compile {what}: still compiling ({now - began:.0f} s)")
            continue
        stopped.append(why)
        proc.kill()
        return


def go_list(root: Path, args: list[str], goflags: str = "", cgo: bool = False,
            timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = child_env(extra={"CGO_ENABLED": "1" if cgo else "0", "GOFLAGS": goflags, "GOTOOLCHAIN": "local"})
    try:
        return subprocess.run([find_tool("go") or "go", "list", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BuildError(f"go list in {root} took longer than {timeout}s",
                         fix="check for a hung module download (offline? vendor the modules)") from None


def main_packages(root: Path, goflags: str = "", limit: int = 20) -> list[str]:
    """The main packages of the module at `root`, as ./dir paths."""
    proc = go_list(root, ["-e", "-f", "{{if eq .Name \"main\"}}{{.Dir}}{{end}}", "./..."], goflags)
    found = []
    for line in proc.stdout.splitlines():
        if line.strip():
            rel = Path(line.strip()).relative_to(root).as_posix()
            found.append("." if rel == "." else "./" + rel)
    return sorted(found)[:limit]


@dataclass(frozen=True)
class MainPackage:
    package: str        # ./cmd/server, as go build takes it
    import_path: str

    @property
    def name(self) -> str:
        return binary_name(self.import_path)


def resolve_mains(module: GoModule, wanted: tuple[str, ...], goflags: str = "",
                  tags: tuple[str, ...] = ()) -> list[MainPackage]:
    """Check that every wanted package is a main package of the module; when one is not, the
    error lists the main packages there are."""
    args = ["-e", "-f", "{{.ImportPath}}\t{{.Name}}\t{{if .Error}}{{.Error.Err}}{{end}}"]
    if tags:
        args += ["-tags", ",".join(tags)]
    proc = go_list(module.root, [*args, *wanted], goflags)
    lines = [line.split("\t") for line in proc.stdout.splitlines() if line.strip()]
    return _mains(module, wanted, lines, proc, goflags)


def _mains(module: GoModule, wanted: tuple[str, ...], lines: list[list[str]],
           proc: subprocess.CompletedProcess[str], goflags: str) -> list[MainPackage]:
    """MainPackages from go list's `ImportPath, Name, Error` of each wanted package, in order."""
    if proc.returncode != 0 and len(lines) != len(wanted):
        raise BuildError(f"go list cannot read the packages {' '.join(wanted)} of {module.path}",
                         found=proc.stderr.strip()[-2000:],
                         fix="'go list " + " ".join(wanted) + "' in the module reproduces this")
    out = []
    for pkg, fields_ in zip(wanted, lines, strict=True):
        import_path, name = fields_[0], fields_[1] if len(fields_) > 1 else ""
        problem = fields_[2] if len(fields_) > 2 else ""
        if name != "main":
            found = main_packages(module.root, goflags)
            raise UsageError(
                f"{pkg} in {module.path} is not a main package",
                expected="the directory of a 'package main' (a command) inside the module",
                found=(f"package {name}" if name else (problem or "no Go files")) + " there; main packages: "
                      + (", ".join(found) if found else "none"),
                fix=(f"sccheck build {module.root} --main {found[0]}" if found
                     else "add a 'package main' with func main() to the module"))
        out.append(MainPackage(pkg, import_path))
    names = [m.name for m in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError("two main packages would give binaries of the same name " + ", ".join(dupes),
                         expected="main packages whose last path elements differ",
                         found=", ".join(m.package for m in out if m.name in dupes))
    return out


_CGO_PACKAGE = '{{.ImportPath}} ({{join .CgoFiles ", "}})'
_CGO_TEMPLATE = "{{if and (not .Standard) .CgoFiles}}" + _CGO_PACKAGE + "{{end}}"


def cgo_packages(module: GoModule, packages: Iterable[str], goflags: str = "",
                 tags: tuple[str, ...] = ()) -> list[str]:
    """Packages outside the standard library in the build list that have cgo files: with
    CGO_ENABLED=0 they fail to compile, or (like go-sqlite3) compile to a stub that fails at run
    time. The standard library's cgo parts have pure-Go fallbacks."""
    args = ["-e", "-deps", "-f", _CGO_TEMPLATE]
    if tags:
        args += ["-tags", ",".join(tags)]
    proc = go_list(module.root, [*args, *packages], goflags, cgo=True)
    return sorted({line.strip() for line in proc.stdout.splitlines() if line.strip()})


def mains_and_cgo(module: GoModule, wanted: tuple[str, ...], goflags: str = "",
                  tags: tuple[str, ...] = ()) -> tuple[list[MainPackage], list[str]]:
    """resolve_mains and cgo_packages from one `go list -deps` (two go list runs side by side
    take as long as both in a row: they contend for the go command's caches). A wanted package
    that cannot be matched to its line, or is not a main package as cgo sees it (a package may
    hold only `!cgo` files), is resolved by resolve_mains as the build sees it, with its errors."""
    template = ("{{if not .DepOnly}}M\t{{.ImportPath}}\t{{.Name}}\t{{.Dir}}\t"
                "{{if .Error}}{{.Error.Err}}{{end}}\n{{end}}"
                "{{if and (not .Standard) .CgoFiles}}C\t" + _CGO_PACKAGE + "{{end}}")
    args = ["-e", "-deps", "-f", template]
    if tags:
        args += ["-tags", ",".join(tags)]
    cache_key = _list_key(module, [*args, *wanted], goflags)
    cached = resultcache.get(LIST_KIND, cache_key) if cache_key else None
    if cached is not None:
        proc = subprocess.CompletedProcess(["go", "list"], 0, cached, "")
    else:
        proc = go_list(module.root, [*args, *wanted], goflags, cgo=True)
    listed: list[list[str]] = []
    cgo: set[str] = set()
    for line in proc.stdout.splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "M":
            listed.append(rest.split("\t"))
        elif kind == "C" and rest.strip():
            cgo.add(rest.strip())
    lines = _in_order(module, wanted, listed)
    if lines is None:
        return resolve_mains(module, wanted, goflags, tags), sorted(cgo)
    if cache_key and cached is None and proc.returncode == 0:
        resultcache.put(LIST_KIND, cache_key, proc.stdout)
    return _mains(module, wanted, lines, proc, goflags), sorted(cgo)


# The answer of that go list is kept (supplychain.resultcache) under the digest of what it can
# depend on: the arguments, `go env` as go list runs, go.mod, go.sum and vendor/modules.txt, the
# name of every file of the module tree, and the head of every .go file: everything before its
# first top-level func, var, const or type, which holds the build constraints, the package clause,
# the imports and a cgo preamble (Go puts imports before every other declaration). An edit inside
# a function, the usual one between two builds, keeps the key; a new import, file, tag or
# dependency changes it. A workspace, a local replace or a tree over resultcache.MAX_FILES is
# never cached; SCCHECK_RESULT_CACHE=0 turns it off.
LIST_KIND = "build/golist"
_LIST_VERSION = b"sccheck go list cache v1\n"
_DECL = re.compile(rb"(func|var|const|type)\b")
_WHOLE = ("go.mod", "go.sum", "go.work", "modules.txt")


def go_file_head(data: bytes) -> bytes:
    """A .go file up to its first top-level declaration other than import (lines at column 0,
    outside /* */ comments). Misreading a comment only ever makes the head longer."""
    pos, in_block = 0, False
    for line in data.splitlines(keepends=True):
        if not in_block and _DECL.match(line):
            return data[:pos]
        rest = line
        while True:
            if in_block:
                end = rest.find(b"*/")
                if end < 0:
                    break
                in_block, rest = False, rest[end + 2:]
            else:
                start = rest.find(b"/*")
                if start < 0:
                    break
                in_block, rest = True, rest[start + 2:]
        pos += len(line)
    return data


def _list_content(rel: str, data: bytes) -> bytes:
    name = rel.rsplit("/", 1)[-1]
    if name.endswith(".go"):
        return go_file_head(data)
    return data if name in _WHOLE else b""


def _list_key(module: GoModule, args: list[str], goflags: str) -> str | None:
    if not resultcache.enabled() or resultcache.replaces_locally(module.root):
        return None
    go = resultcache.go_env(module.root, None, extra={"CGO_ENABLED": "1", "GOFLAGS": goflags,
                                                       "GOTOOLCHAIN": "local"})
    if go is None:
        return None
    digest = hashlib.sha256(_LIST_VERSION)
    digest.update(json.dumps([args, goflags, str(module.root), go], sort_keys=True).encode() + b"\n")
    if not resultcache.feed_tree(module.root, digest, _list_content):
        return None
    return digest.hexdigest()


def _in_order(module: GoModule, wanted: tuple[str, ...], listed: list[list[str]]) -> list[list[str]] | None:
    """Each wanted package's `ImportPath, Name, Error` from -deps output (dependency order)."""
    if len(listed) != len(wanted) or any(len(f) < 3 or f[1] != "main" for f in listed):
        return None
    if len(wanted) == 1:
        return [[f[0], f[1], *f[3:]] for f in listed]
    out = []
    for pkg in wanted:
        is_dir = pkg.startswith((".", "/"))
        target = str((module.root / pkg).resolve()) if is_dir else pkg
        match = [f for f in listed if (f[2] if is_dir else f[0]) == target]
        if len(match) != 1:
            return None
        out.append([match[0][0], match[0][1], *match[0][3:]])
    return out


def _needs_cgo(root: Path) -> list[str]:
    hits: list[str] = []
    for count, file in enumerate(root.rglob("*.go")):
        if count > 5000 or len(hits) >= 5:
            break
        if "vendor" in file.parts or "testdata" in file.parts:
            continue
        text = file.read_text(errors="replace")
        if re.search(r'^\s*import\s+"C"|^\s*"C"\s*$', text, re.MULTILINE):
            hits.append(str(file.relative_to(root)))
    return hits


def compile_error(req: CompileRequest, platform: Platform, argv: list[str], output: str,
                  cgo: bool = False) -> BuildError:
    cgo_files = [] if cgo else _needs_cgo(req.module.root)
    if cgo_files:
        return BuildError(
            f"{req.module.path} needs cgo, which a static image cannot carry",
            expected="pure Go code (the build runs with CGO_ENABLED=0)",
            found='import "C" in ' + ", ".join(cgo_files),
            fix="build with --cgo against a glibc or musl --base, replace the cgo dependency with a "
                "pure-Go one (e.g. modernc.org/sqlite for mattn/go-sqlite3), or move the C code out "
                "of the service",
            facts={"command": "go " + shlex.join(argv[1:]), "compiler output": output.strip()},
        )
    return BuildError(
        f"go build failed for {platform}",
        expected=f"{req.module.path} to compile",
        found="compiler errors (below)",
        fix="fix the errors shown; 'go build ./...' in the module reproduces them",
        facts={"command": "go " + shlex.join(argv[1:]), "compiler output": output.strip()},
    )
