"""govulncheck's answers by everything they depend on, so a check of unchanged code against an
unchanged database does not run the same scan again.

go vet and `go test` are cached by the go command and staticcheck keeps its own cache;
govulncheck has none, and it is most of a warm check (type-checking the module from source and
walking the call graph). Its output is a function of: the govulncheck executable (by content),
its arguments, the Go toolchain and build environment (`go env`: version, GOOS/GOARCH, GOFLAGS,
cgo, experiments), the module's files (every file of the module tree but .git, by content: the
sources, go.mod, go.sum, vendor/; go.sum pins every dependency's bytes), the binary in binary
mode, and the vulnerability database (a local copy by the content of every file; a remote one
by its `index/db.json`, which names the time the database last changed). The key is the SHA-256
of all of these, so any change to any of them is a miss and govulncheck runs.

Not cached (govulncheck runs each time): a Go workspace (go.work names modules outside the
tree), a go.mod that replaces a module with a local directory (outside the tree's digest),
`-mod=mod` in GOFLAGS (the go command may resolve a missing requirement to whatever is newest),
a module tree over MAX_FILES files or MAX_BYTES bytes, a remote database whose index cannot be
read, and SCCHECK_CHECK_CACHE=0. Entries live in <cache>/check/govulncheck (the layer cache's
root), are written whole (temporary file, then rename) and pruned past MAX_CACHE_BYTES.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from supplychain.fsutil import atomic_write, cache_root
from supplychain.tools import child_env

VERSION = "sccheck govulncheck cache v1"
MAX_FILES = 20_000
MAX_BYTES = 512 << 20
MAX_DB_INDEX = 1 << 20
MAX_CACHE_BYTES = 64 << 20
GO_ENV = ("GOVERSION", "GOROOT", "GOOS", "GOARCH", "GOFLAGS", "GOWORK", "CGO_ENABLED", "GOEXPERIMENT",
          "GOAMD64", "GOARM64", "GOTOOLCHAIN", "GO111MODULE")
_LOCAL_REPLACE = re.compile(r"=>\s*(\.{1,2}[/\\]|/|[A-Za-z]:[/\\])", re.M)


def enabled(env: Mapping[str, str]) -> bool:
    value = env.get("SCCHECK_CHECK_CACHE", os.environ.get("SCCHECK_CHECK_CACHE", "1"))
    return value.strip().lower() not in ("0", "off", "false", "no")


def _module_root(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / "go.mod").is_file():
            return directory
    return None


def _tree(root: Path, digest: hashlib._Hash) -> bool:
    """Feed every file of `root` (but .git) to `digest` by relative path and content; False when
    the tree is too big to be worth it or cannot be read whole."""
    files, size = 0, 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            path = Path(dirpath, name)
            files += 1
            if files > MAX_FILES:
                return False
            try:
                if path.is_symlink():
                    data = os.readlink(path).encode()
                    kind = b"link"
                else:
                    data = path.read_bytes()
                    kind = b"file"
            except OSError:
                return False
            size += len(data)
            if size > MAX_BYTES:
                return False
            rel = path.relative_to(root).as_posix().encode()
            digest.update(b"%s %d %s %d\n" % (kind, len(rel), rel, len(data)))
            digest.update(data)
    return True


def _go_env(cwd: Path, env: Mapping[str, str]) -> dict[str, str] | None:
    try:
        proc = subprocess.run(["go", "env", "-json", *GO_ENV], cwd=cwd, env=child_env(env),
                              capture_output=True, text=True, timeout=60, check=False)
        values = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return {k: str(v) for k, v in values.items()} if isinstance(values, dict) else None


def _database(db: str, digest: hashlib._Hash) -> bool:
    parsed = urlparse(db)
    if parsed.scheme == "file":
        digest.update(b"db local\n")
        return _tree(Path(parsed.path), digest)
    try:
        from supplychain.httpclient import new_session

        with new_session() as session:
            resp = session.get(db.rstrip("/") + "/index/db.json", timeout=10, stream=True)
            body = resp.raw.read(MAX_DB_INDEX + 1, decode_content=True) if resp.ok else b""
    except Exception:     # any failure only means "no cache": govulncheck reports it
        return False
    if not body or len(body) > MAX_DB_INDEX:
        return False
    digest.update(b"db remote %d\n" % len(body))
    digest.update(body)
    return True


def key(exe: str, args: list[str], root: Path, binary: Path | None, db: str,
        env: Mapping[str, str]) -> str | None:
    """The cache key of one govulncheck run, or None when its answer must not be reused."""
    if not enabled(env):
        return None
    digest = hashlib.sha256(VERSION.encode() + b"\n")
    try:
        digest.update(hashlib.sha256(Path(exe).read_bytes()).digest())
    except OSError:
        return None
    digest.update(json.dumps([args, str(root)]).encode() + b"\n")
    go = _go_env(root, env)
    if go is None or go.get("GOWORK", "") not in ("", "off") or "-mod=mod" in go.get("GOFLAGS", ""):
        return None
    digest.update(json.dumps(go, sort_keys=True).encode() + b"\n")
    if binary is not None:
        try:
            digest.update(b"binary\n" + hashlib.sha256(binary.read_bytes()).digest())
        except OSError:
            return None
    else:
        module = _module_root(root)
        if module is None:
            return None
        try:
            if _LOCAL_REPLACE.search((module / "go.mod").read_text(errors="replace")):
                return None
        except OSError:
            return None
        digest.update(b"module %s\n" % str(module).encode())
        if not _tree(module, digest):
            return None
    if not _database(db, digest):
        return None
    return digest.hexdigest()


def _dir() -> Path:
    return cache_root() / "check" / "govulncheck"


def get(cache_key: str) -> str | None:
    path = _dir() / f"{cache_key}.json"
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != cache_key:
        return None
    if not isinstance(entry.get("stdout"), str):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return str(entry["stdout"])


def put(cache_key: str, stdout: str) -> None:
    """Best effort: a cache that cannot be written is skipped."""
    directory = _dir()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(directory / f"{cache_key}.json", json.dumps({"key": cache_key, "stdout": stdout}),
                     mode=0o600)
    except OSError:
        return
    entries = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.endswith(".json"):
                with contextlib.suppress(OSError):
                    st = entry.stat()
                    entries.append((st.st_mtime, st.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries)[:-1]:
        if total <= MAX_CACHE_BYTES:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
        total -= size
