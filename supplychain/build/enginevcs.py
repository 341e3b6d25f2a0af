"""The docker builder's VCS stamp: go in the engine writes the `vcs.*` settings the host's go writes.

Go stamps `vcs.revision`, `vcs.time` and `vcs.modified` into a binary built in a git work tree
(and takes the main module's version from a tag) by running git in the repository. For the
engine's go to stamp what the host's go stamps, the container gets the repository as git sees
it on the host:

- the work tree: every file git lists (tracked, and untracked but not ignored), regular files with
  their executable bit and symlinks as symlinks; the module's other files (ignored ones a build may
  still read) come too, and the container's git is told to ignore exactly those (`info/exclude`),
  so a file only the host's global excludes hide does not read as a modification;
- `.git` without `config` (and `config.worktree`), `FETCH_HEAD`, `logs/`, `hooks/`, `modules/`,
  `worktrees/` and `lfs/`: a config holding only the `core` settings git needs to read the tree and
  the `extensions` of the repository format is written instead, so remotes, credentials, URL
  rewrites, helpers and hooks never reach the engine (a submodule's own git directory stays out
  too: its status cannot be read there, which the stamp check reports).

go needs a git to run in the container. The host's own git goes in with the tree (its binary,
its ELF loader and the shared libraries it needs, below one directory, started by a small static
launcher named `git` first on the PATH), so the questions are answered by the very git the
daemonless build asks, whatever the builder image has (a toolchain made by `docker import` has
no git). Where the engine runs another architecture than this machine, or the host's git cannot
be carried (a library not found), the builder image's own git is used if it has one. go runs with
`-buildvcs=auto`: without any git it stamps nothing. After the compile the stamp in the binary is
compared with what the host's git says; any difference is a note naming both, never silence.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from supplychain.build.layers import Entry, file
from supplychain.source import SourceInfo, git
from supplychain.tools import child_env, find_tool

GIT_TIMEOUT = 60
# Left out of `.git`: what may name remotes or credentials (config, config.worktree, FETCH_HEAD,
# the reflogs, submodules' own git directories), hooks, other worktrees' records, LFS objects.
SKIP_GIT = {"hooks", "logs", "lfs", "config", "config.worktree", "FETCH_HEAD", "modules", "worktrees",
            "fsmonitor--daemon"}
CONFIG_KEYS = ("core.repositoryformatversion", "core.filemode", "core.symlinks", "core.ignorecase",
               "core.precomposeunicode", "core.autocrlf", "core.eol", "core.safecrlf", "core.checkstat",
               "core.trustctime", "core.quotepath", "core.bare")


class TooLarge(Exception):
    """The repository is larger than the engine's build context may be: build without the stamp."""


@dataclass(frozen=True)
class Stamp:
    """What the host's go would write: vcs.revision, vcs.time, vcs.modified."""
    revision: str | None
    time: str | None
    modified: bool

    def settings(self) -> dict[str, str]:
        out = {"vcs": "git", "vcs.modified": str(self.modified).lower()}
        if self.revision:
            out["vcs.revision"] = self.revision
        if self.time:
            out["vcs.time"] = self.time
        return out


@dataclass(frozen=True)
class Repo:
    top: Path          # the work tree's top level (holds the .git directory)
    stamp: Stamp       # what the host's go stamps


def _git_bytes(top: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    """`git -C TOP ARGS` with its raw output (an empty answer is an answer here), or None when
    git is missing or does not finish."""
    exe = find_tool("git", required=False)
    if exe is None:
        return None
    try:
        return subprocess.run([exe, "-C", str(top), *args], capture_output=True, timeout=GIT_TIMEOUT,
                              check=False, env=child_env())
    except (OSError, subprocess.TimeoutExpired):
        return None


def host_repo(module_root: Path, info: SourceInfo) -> Repo | None:
    """The git repository the host's go stamps from, or None when it stamps nothing (no git, not
    a work tree, or a linked worktree, whose `.git` is a file go does not look for). `info` is
    what the build already read from git (`supplychain.source.source_info` of the module): HEAD
    and its commit time are the answer to go's `log -1 --format=%H:%ct`; only `status
    --porcelain`, go's other question, is asked here."""
    top_text = info.toplevel or git(module_root, "rev-parse", "--show-toplevel")   # no commit yet
    if not top_text:
        return None
    top = Path(top_text)
    if not (top / ".git").is_dir():
        return None
    status = _git_bytes(top, "status", "--porcelain")
    if status is None or status.returncode != 0:
        return None
    when = None
    if info.commit_time is not None:
        when = dt.datetime.fromtimestamp(info.commit_time, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Repo(top, Stamp(info.revision, when, bool(status.stdout)))


def _config(top: Path) -> bytes:
    """The repository's config cut down to what reading the tree needs (one read of it)."""
    listed = git(top, "config", "--file", str(top / ".git" / "config"), "--get-regexp",
                 r"^(core|extensions)\.")
    values: dict[str, str] = {}
    for line in (listed or "").splitlines():
        key, _, value = line.partition(" ")
        values[key] = value            # the last of a repeated key wins, as `git config --get`
    lines = ["[core]"]
    lines += [f"\t{key.split('.', 1)[1]} = {values[key]}" for key in CONFIG_KEYS if values.get(key)]
    ext = [f"\t{key.split('.', 1)[1]} = {value}" for key, value in values.items()
           if key.startswith("extensions.")]
    if ext:
        lines += ["[extensions]", *ext]
    return ("\n".join(lines) + "\n").encode()


def repo_entries(repo: Repo, tree: Path, dest: str, others: list[Entry], *, max_files: int,
                 max_bytes: int) -> list[Entry]:
    """The work tree git sees and the cut-down `.git`, below `dest` (the container path of
    `tree`, which holds `repo.top`); `others` are the files already chosen from the module
    (their paths below `dest`), which are kept, and told to git as ignored when git does not
    list them. Raises TooLarge past `max_files` / `max_bytes`."""
    prefix = repo.top.resolve().relative_to(tree.resolve()).as_posix()
    base = dest if prefix == "." else f"{dest}/{prefix}"
    listed = _git_bytes(repo.top, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is None or listed.returncode != 0:
        raise TooLarge("git ls-files failed")
    names = sorted({n.decode("utf-8", "surrogateescape") for n in listed.stdout.split(b"\0") if n})
    entries: dict[str, Entry] = {e.path: e for e in others}
    seen = 0
    for name in names:
        path = repo.top / name
        target = f"{base}/{name}"
        if path.is_symlink():
            entries[target] = Entry(target, 0o777, None, os.readlink(path))
        elif path.is_file():
            seen += path.stat().st_size
            if seen > max_bytes:
                raise TooLarge(f"the work tree is over {max_bytes} bytes")
            if target not in entries:
                mode = 0o755 if os.access(path, os.X_OK) else 0o644
                entries[target] = file(target, path.read_bytes(), mode)
        if len(entries) > max_files:
            raise TooLarge(f"the work tree has over {max_files} files")
    known = set(names)
    ignored = sorted(e.path[len(base) + 1:] for e in others
                     if e.path.startswith(base + "/") and e.path[len(base) + 1:] not in known)
    git_dir = repo.top / ".git"
    exclude = b""
    for dirpath, dirnames, filenames in os.walk(git_dir):
        rel_dir = Path(dirpath).relative_to(git_dir)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in SKIP_GIT]
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            path = Path(dirpath) / name
            if rel in SKIP_GIT or path.is_symlink() or not path.is_file():
                continue
            if rel == "info/exclude":
                exclude = path.read_bytes()
                continue
            seen += path.stat().st_size
            if seen > max_bytes:
                raise TooLarge(f"the repository is over {max_bytes} bytes")
            entries[f"{base}/.git/{rel}"] = file(f"{base}/.git/{rel}", path.read_bytes())
            if len(entries) > max_files:
                raise TooLarge(f"the repository has over {max_files} files")
    entries[f"{base}/.git/config"] = file(f"{base}/.git/config", _config(repo.top))
    extra = "".join(f"/{_pattern(name)}\n" for name in ignored)
    if extra:
        exclude = exclude + (b"" if not exclude or exclude.endswith(b"\n") else b"\n") + \
            b"# ignored on the host (sccheck build --builder docker)\n" + extra.encode()
    entries[f"{base}/.git/info/exclude"] = file(f"{base}/.git/info/exclude", exclude)
    return list(entries.values())


def _pattern(name: str) -> str:
    """A path as a literal gitignore pattern."""
    out = []
    for ch in name:
        out.append("\\" + ch if ch in "*?[]\\!# " else ch)
    return "".join(out)


LIB_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")
MAX_LIBS = 64
LAUNCHER = """package main

// git for the build container: runs the host's git through the loader and libraries that came
// with it, so no library of the builder image is needed.
import (
	"os"
	"syscall"
)

const dir = %s

func main() {
	argv := append([]string{dir + "/ld.so", "--library-path", dir + "/lib", dir + "/git"}, os.Args[1:]...)
	err := syscall.Exec(argv[0], argv, os.Environ())
	os.Stderr.WriteString("git launcher: " + err.Error() + "\\n")
	os.Exit(127)
}
"""


def _lib_dirs() -> list[Path]:
    out: list[Path] = []
    for base in LIB_DIRS:
        root = Path(base)
        out += sorted(p for p in root.glob("*-linux-gnu*") if p.is_dir()) if root.is_dir() else []
        out.append(root)
    return out


def _libraries(needed: tuple[str, ...]) -> dict[str, Path] | None:
    """Each needed library (and theirs) as found in the host's standard directories; None when
    one is missing."""
    from supplychain.build.elfcheck import read_linkage
    from supplychain.errors import BuildError

    found: dict[str, Path] = {}
    todo = list(needed)
    dirs = _lib_dirs()
    while todo:
        name = todo.pop()
        if name in found:
            continue
        path = next((d / name for d in dirs if (d / name).is_file()), None)
        if path is None or len(found) >= MAX_LIBS:
            return None
        found[name] = path.resolve()
        try:
            todo += [n for n in read_linkage(found[name]).needed if n not in found]
        except BuildError:
            return None
    return found


def host_git_entries(dest: str, goarch: str) -> list[Entry] | None:
    """The host's git below `dest`, runnable in a container of this machine's architecture as
    `dest/bin/git`; None when it cannot be carried."""
    from supplychain.build.elfcheck import read_linkage
    from supplychain.errors import BuildError

    exe = find_tool("git", required=False)
    if exe is None:
        return None
    real = Path(exe).resolve()
    try:
        linkage = read_linkage(real)
    except BuildError:
        return None          # a script or a wrapper: not carried
    if linkage.interpreter is None:
        return [file(f"{dest}/bin/git", real.read_bytes(), 0o755)]
    loader = Path(linkage.interpreter)
    libs = _libraries(linkage.needed)
    launcher = _launcher(dest, goarch)
    if libs is None or launcher is None or not loader.is_file():
        return None
    return [file(f"{dest}/git", real.read_bytes(), 0o755),
            file(f"{dest}/ld.so", loader.resolve().read_bytes(), 0o755),
            *(file(f"{dest}/lib/{name}", path.read_bytes(), 0o755) for name, path in sorted(libs.items())),
            file(f"{dest}/bin/git", launcher, 0o755)]


def _launcher(dest: str, goarch: str) -> bytes | None:
    """The launcher, built by the host's go (static, for `goarch`)."""
    import tempfile

    go = find_tool("go", required=False) or "go"
    with tempfile.TemporaryDirectory(prefix="sccheck-gitlauncher-") as tmp:
        (Path(tmp) / "go.mod").write_text("module sccheck.local/gitlauncher\n\ngo 1.21\n")
        (Path(tmp) / "main.go").write_text(LAUNCHER % json.dumps(dest))  # a Go string literal
        env = child_env(extra={"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": goarch, "GOFLAGS": "",
                               "GOWORK": "off", "GOTOOLCHAIN": "local", "GO111MODULE": "on"})
        try:
            proc = subprocess.run([go, "build", "-trimpath", "-ldflags=-s -w", "-o", "git", "."], cwd=tmp,
                                  env=env, capture_output=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        out = Path(tmp) / "git"
        return out.read_bytes() if proc.returncode == 0 and out.is_file() else None


def stamp_note(binary: bytes, expected: Stamp) -> str | None:
    """None when the binary carries the stamp the host's go writes; else what differs."""
    from supplychain.errors import SbomError
    from supplychain.sbom.buildinfo import read_buildinfo

    try:
        info = read_buildinfo(binary, "the engine's binary")
    except SbomError:
        return "the engine's binary has no readable build info: its VCS stamp could not be checked"
    got = {k: v for k, v in info.settings if k == "vcs" or k.startswith("vcs.")}
    want = expected.settings()
    if got == want:
        return None
    if not got:
        return ("no git ran in the engine (the host's could not come along and the builder image has "
                "no git on its PATH) or go found no repository there: the binary carries "
                "no VCS stamp, so its digest differs from --builder oci's; the image's labels and "
                f"provenance still name revision {expected.revision or 'unknown'}")
    diff = ", ".join(f"{k}={got.get(k, '(none)')} (the host's go: {want.get(k, '(none)')})"
                     for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k))
    return f"the engine's go stamped other VCS facts than the host's would: {diff}"


__all__ = ["Repo", "Stamp", "TooLarge", "host_git_entries", "host_repo", "repo_entries", "stamp_note"]
