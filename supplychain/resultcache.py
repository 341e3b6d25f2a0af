"""Answers of deterministic tools kept under the digest of everything they depend on.

The caller computes the key (supplychain.analyzers.vulncache for govulncheck, gocompile for the
build's go list); this module only stores text by (kind, key) in <cache>/<kind>, written whole
(temporary file, then rename) and pruned oldest first past a size bound. An entry holds its own
key, so a file renamed or damaged is a miss, never another answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from supplychain.fsutil import atomic_write, cache_root, prune_least_recent
from supplychain.tools import child_env

MAX_BYTES = 64 << 20
GO_ENV = ("GOVERSION", "GOROOT", "GOOS", "GOARCH", "GOFLAGS", "GOWORK", "CGO_ENABLED", "GOEXPERIMENT",
          "GOAMD64", "GOARM64", "GOTOOLCHAIN", "GO111MODULE")
_REPLACE_TARGET = re.compile(r"=>\s*(\S+)")


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """SCCHECK_RESULT_CACHE=0 (in `env`, else the process's environment) turns them all off."""
    value = (env or {}).get("SCCHECK_RESULT_CACHE", os.environ.get("SCCHECK_RESULT_CACHE", "1"))
    return value.strip().lower() not in ("0", "off", "false", "no")


def go_env(cwd: Path, env: Mapping[str, str] | None = None,
           extra: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The go command's settings an answer depends on (GO_ENV), as `go env` reports them in
    `cwd`; None when go cannot say, or when a Go workspace (go.work) takes in modules from
    outside the tree, or GOFLAGS has -mod=mod (a missing requirement resolves to whatever is
    newest): such answers are never reused."""
    try:
        proc = subprocess.run(["go", "env", "-json", *GO_ENV], cwd=cwd, env=child_env(env, extra=extra),
                              capture_output=True, text=True, timeout=60, check=False)
        values = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(values, dict):
        return None
    out = {k: str(v) for k, v in values.items()}
    if out.get("GOWORK", "") not in ("", "off") or "-mod=mod" in out.get("GOFLAGS", ""):
        return None
    return out


def replaces_locally(module: Path) -> bool:
    """Whether go.mod replaces a module with a directory outside the module tree (which a tree
    digest does not hold); a replacement inside it is part of the tree. An unreadable go.mod
    counts as one."""
    try:
        text = (module / "go.mod").read_text(errors="replace")
    except OSError:
        return True
    root = module.resolve()
    for match in _REPLACE_TARGET.finditer(text):
        target = match.group(1).strip('"`')
        if not target.startswith((".", "/", "\\")) and not re.match(r"[A-Za-z]:[/\\]", target):
            continue                                   # a module path, pinned by go.sum
        if not (root / target).resolve().is_relative_to(root):
            return True
    return False


MAX_FILES = 20_000
MAX_TREE_BYTES = 512 << 20


def feed_tree(root: Path, digest: Any, content: Callable[[str, bytes], bytes] | None = None) -> bool:
    """Feed every file of `root` (but .git) to `digest`, by relative path and `content(path,
    bytes)` (default: all of it); False when the tree is too big to be worth it (MAX_FILES,
    MAX_TREE_BYTES) or cannot be read whole."""
    files, size = 0, 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            path = Path(dirpath, name)
            files += 1
            if files > MAX_FILES:
                return False
            rel = path.relative_to(root).as_posix()
            try:
                if path.is_symlink():
                    data, kind = os.readlink(path).encode(), b"link"
                else:
                    data, kind = path.read_bytes(), b"file"
            except OSError:
                return False
            size += len(data)
            if size > MAX_TREE_BYTES:
                return False
            if kind == b"file" and content is not None:
                data = content(rel, data)
            digest.update(b"%s %d %s %d\n" % (kind, len(rel.encode()), rel.encode(), len(data)))
            digest.update(data)
    return True


def _dir(kind: str) -> Path:
    return cache_root() / kind


def get(kind: str, key: str) -> str | None:
    path = _dir(kind) / f"{key}.json"
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("text"), str):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return str(entry["text"])


def put(kind: str, key: str, text: str, max_bytes: int = MAX_BYTES) -> None:
    """Best effort: a cache that cannot be written is skipped."""
    directory = _dir(kind)
    path = directory / f"{key}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, json.dumps({"key": key, "text": text}), mode=0o600)
    except OSError:
        return
    prune_least_recent(directory, ".json", max_bytes, keep=path)
