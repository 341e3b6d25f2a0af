"""Finding the external programs sccheck drives (go, staticcheck, cosign, fulcio, ...).

Pinned Go tools are installed by `scripts/install-go-tools` into `.tools/bin` at the project
root; `SCCHECK_TOOLS_BIN` points elsewhere (a shared install); `PATH` comes last.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from supplychain.errors import ToolMissing

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# name -> the go package it is installed from (kept in step with scripts/tools.txt)
INSTALL_HINTS = {
    "go": "install Go 1.26 (https://go.dev/dl) and put it on PATH",
}


def _tools_txt() -> dict[str, str]:
    hints: dict[str, str] = {}
    listing = PROJECT_ROOT / "scripts" / "tools.txt"
    if listing.is_file():
        for line in listing.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and not parts[0].startswith("#"):
                hints[parts[0]] = f"scripts/install-go-tools {parts[0]}   (go install {parts[1]})"
    return hints


def tool_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("SCCHECK_TOOLS_BIN")
    if env:
        dirs.append(Path(env))
    dirs.append(PROJECT_ROOT / ".tools" / "bin")
    return dirs


def find_tool(name: str, *, required: bool = True) -> str | None:
    """Return the path of tool `name`, or raise ToolMissing naming the install command."""
    for directory in tool_dirs():
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    if not required:
        return None
    hint = INSTALL_HINTS.get(name) or _tools_txt().get(name) or f"install {name} and put it on PATH"
    raise ToolMissing(
        f"{name} is not installed",
        expected=f"an executable {name} in {', '.join(map(str, tool_dirs()))} or on PATH",
        found="nothing",
        fix=hint,
    )
