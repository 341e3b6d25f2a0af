"""Compile a Go module into a static binary per platform: CGO off, -trimpath, stripped,
no build id, version injected with -X, and VCS info recorded (-buildvcs=true)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from supplychain.build.elfcheck import require_static
from supplychain.errors import BuildError, UsageError
from supplychain.gomodule import module_root
from supplychain.image.platform import Platform
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
        last = self.path.rstrip("/").rsplit("/", 1)[-1]
        if re.fullmatch(r"v\d+", last) and "/" in self.path:
            last = self.path.rstrip("/").rsplit("/", 2)[-2]
        return re.sub(r"[^A-Za-z0-9._-]", "-", last) or "app"


def find_module(path: str | os.PathLike[str]) -> GoModule:
    root, module = module_root(path)
    return GoModule(root, module)


def ldflags(version: str, version_var: str, extra: str = "") -> str:
    if not re.fullmatch(r"[A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*", version_var):
        raise UsageError(f"invalid --version-var {version_var!r}",
                         expected="an import path and a variable name, e.g. main.version")
    if not re.fullmatch(r"[A-Za-z0-9._+~-]{1,128}", version):
        raise UsageError(f"invalid --version {version!r}",
                         expected="letters, digits and . _ + ~ - (at most 128 characters)")
    flags = f"-s -w -buildid= -X {version_var}={version}"
    return f"{flags} {extra}".strip()


@dataclass(frozen=True)
class CompileRequest:
    module: GoModule
    package: str = "."
    version: str = "dev"
    version_var: str = "main.version"
    extra_ldflags: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompiledBinary:
    platform: Platform
    path: Path
    seconds: float


def go_build_argv(req: CompileRequest, output: Path) -> list[str]:
    argv = [find_tool("go") or "go", "build", "-trimpath", "-buildvcs=true",
            "-ldflags", ldflags(req.version, req.version_var, req.extra_ldflags)]
    if req.tags:
        argv += ["-tags", ",".join(req.tags)]
    return [*argv, "-o", str(output), req.package]


def compile_binary(req: CompileRequest, platform: Platform, output: Path) -> CompiledBinary:
    """Run go build for one platform and check that the result is statically linked."""
    env = child_env(extra={**go_env(platform), "CGO_ENABLED": "0", "GOFLAGS": "", "GOTOOLCHAIN": "local"})
    argv = go_build_argv(req, output)
    began = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=req.module.root, env=env, capture_output=True, text=True,
                              timeout=COMPILE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BuildError(f"go build for {platform} took longer than {COMPILE_TIMEOUT}s",
                         fix="check for a hung module download (offline? vendor the modules)") from None
    if proc.returncode != 0:
        raise _compile_error(req, platform, argv, proc.stderr + proc.stdout)
    require_static(output, str(platform))
    return CompiledBinary(platform, output, time.monotonic() - began)


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


def _compile_error(req: CompileRequest, platform: Platform, argv: list[str], output: str) -> BuildError:
    cgo_files = _needs_cgo(req.module.root)
    if cgo_files:
        return BuildError(
            f"{req.module.path} needs cgo, which a static image cannot carry",
            expected="pure Go code (the build runs with CGO_ENABLED=0)",
            found='import "C" in ' + ", ".join(cgo_files),
            fix="replace the cgo dependency with a pure-Go one (e.g. modernc.org/sqlite for "
                "mattn/go-sqlite3) or move the C code out of the service",
            facts={"command": "go " + shlex.join(argv[1:]), "compiler output": output.strip()},
        )
    return BuildError(
        f"go build failed for {platform}",
        expected=f"{req.module.path} to compile",
        found="compiler errors (below)",
        fix="fix the errors shown; 'go build ./...' in the module reproduces them",
        facts={"command": "go " + shlex.join(argv[1:]), "compiler output": output.strip()},
    )
