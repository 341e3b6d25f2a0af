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
a module tree over resultcache.MAX_FILES files or MAX_TREE_BYTES bytes, a remote database whose
index cannot be read, and SCCHECK_RESULT_CACHE=0. Entries live in <cache>/check/govulncheck (the layer cache's
root; supplychain.resultcache).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from supplychain import resultcache

VERSION = "sccheck govulncheck cache v1"
MAX_DB_INDEX = 1 << 20
KIND = "check/govulncheck"


def _database(db: str, digest: hashlib._Hash) -> bool:
    parsed = urlparse(db)
    if parsed.scheme == "file":
        digest.update(b"db local\n")
        return resultcache.feed_tree(Path(parsed.path), digest)
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
    if not resultcache.enabled(env):
        return None
    digest = hashlib.sha256(VERSION.encode() + b"\n")
    try:
        digest.update(hashlib.sha256(Path(exe).read_bytes()).digest())
    except OSError:
        return None
    digest.update(json.dumps([args, str(root)]).encode() + b"\n")
    go = resultcache.go_env(root, env)
    if go is None:
        return None
    digest.update(json.dumps(go, sort_keys=True).encode() + b"\n")
    if binary is not None:
        try:
            digest.update(b"binary\n" + hashlib.sha256(binary.read_bytes()).digest())
        except OSError:
            return None
    else:
        # source mode: `root` is the module directory (ToolContext; the runner checked its go.mod)
        if resultcache.replaces_locally(root) or not resultcache.feed_tree(root, digest):
            return None
    if not _database(db, digest):
        return None
    return digest.hexdigest()


def get(cache_key: str) -> str | None:
    return resultcache.get(KIND, cache_key)


def put(cache_key: str, stdout: str) -> None:
    resultcache.put(KIND, cache_key, stdout)
