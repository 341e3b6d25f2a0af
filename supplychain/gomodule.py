"""The one test of "is this a Go module?", shared by build, check, sbom and build-and-sign, so
the same directory gets the same answer (a usage error, exit 2) from every command."""

from __future__ import annotations

import os
import re
from pathlib import Path

from supplychain.errors import UsageError

_MODULE = re.compile(r"^\s*module\s+\"?([^\s\"]+)\"?", re.MULTILINE)


def module_root(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """(the resolved module directory, its module path) or a UsageError saying which is wrong."""
    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", expected="the directory of a Go module (with go.mod)",
                         found="no such directory" if not root.exists() else "a file",
                         fix="pass the directory that holds go.mod, e.g. examples/hello")
    gomod = root / "go.mod"
    if not gomod.is_file():
        above = _enclosing(root)
        if above is not None:
            raise UsageError(f"{root} is a package directory inside the module at {above}",
                             expected="the module's root directory (with go.mod)",
                             found=f"go.mod in {above}",
                             fix=f"pass {above} (sccheck build takes the package directory itself)")
        raise UsageError(f"{root} is not a Go module", expected=f"a go.mod file in {root}",
                         found="no go.mod",
                         fix="run 'go mod init <module path>' there, or pass the directory that holds go.mod")
    match = _MODULE.search(gomod.read_text(encoding="utf-8", errors="replace"))
    if not match:
        raise UsageError(f"{gomod} has no module line", expected="'module <path>' in go.mod",
                         found="no module line", fix="fix go.mod ('go mod init <module path>')")
    return root.resolve(), match.group(1)


def _enclosing(root: Path) -> Path | None:
    """The nearest directory above `root` with a go.mod (as `go` finds its module), or None."""
    for parent in root.resolve().parents:
        if (parent / "go.mod").is_file():
            return parent
    return None


def find_module_root(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """Like `module_root`, but `path` may be any package directory inside the module: the
    module is the nearest go.mod at or above it."""
    root = Path(path)
    if root.is_dir() and not (root / "go.mod").is_file():
        above = _enclosing(root)
        if above is not None:
            return module_root(above)
    return module_root(root)
