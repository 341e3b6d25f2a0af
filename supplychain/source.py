"""Facts about a Go source tree, read one way for the whole project: git (one reader) and the Go
toolchain version (one probe). build, sbom, the pipeline and the provenance all ask here."""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from supplychain.tools import child_env, find_tool

GIT_TIMEOUT = 30
GO_TIMEOUT = 60


def git(root: str | Path, *args: str) -> str | None:
    """`git -C ROOT ARGS...`'s stripped output, or None when git is missing, fails or says nothing."""
    exe = find_tool("git", required=False)
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "-C", str(root), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False, env=child_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def strip_credentials(url: str) -> str:
    """Never put a token embedded in a remote URL into a label, a predicate or a log."""
    return re.sub(r"^([a-z+]+://)[^/@]*@", r"\1", url)


def remote_uri(remote: str, root: str | Path | None = None) -> str:
    """A git remote as an absolute URI: URLs stay (credentials stripped), a path (a clone of a
    local repository) becomes `file://`, scp-like `git@host:org/app.git` becomes `ssh://`."""
    if "://" in remote:
        return strip_credentials(remote)
    scp = re.match(r"^([\w.-]+@)?([\w.-]+):(?!//)(.+)$", remote)
    if scp and not remote.startswith(("/", ".")):
        return f"ssh://{scp.group(1) or ''}{scp.group(2)}/{scp.group(3)}"
    path = Path(remote)
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    return path.resolve().as_uri()


@dataclass(frozen=True)
class SourceInfo:
    revision: str | None = None          # full commit sha of HEAD
    commit_time: int | None = None       # its committer time (unix seconds)
    remote: str | None = None            # origin as an absolute URI, credentials stripped
    describe: str | None = None          # `git describe --tags --always --dirty`
    toplevel: str | None = None          # the checkout's root directory
    branch: str | None = None            # the checked-out branch, None when detached


def source_info(root: str | Path) -> SourceInfo:
    revision = git(root, "rev-parse", "HEAD")
    if revision is None:
        return SourceInfo()
    ct = git(root, "log", "-1", "--format=%ct")
    remote = git(root, "config", "--get", "remote.origin.url")
    toplevel = git(root, "rev-parse", "--show-toplevel")
    return SourceInfo(
        revision=revision,
        commit_time=int(ct) if ct and ct.isdigit() else None,
        remote=remote_uri(remote, toplevel or root) if remote else None,
        describe=git(root, "describe", "--tags", "--always", "--dirty"),
        toplevel=toplevel,
        branch=git(root, "symbolic-ref", "--quiet", "--short", "HEAD"),
    )


def exact_tag(root: str | Path) -> str | None:
    """The tag HEAD sits on in a clean checkout (`git describe --tags --exact-match --dirty`)."""
    return git(root, "describe", "--tags", "--exact-match", "--dirty")


def go_version(directory: str | Path | None = None) -> str:
    """`go env GOVERSION` (e.g. "go1.26.8"), "" when Go is missing or says nothing. Asked once
    per toolchain and directory (a go.mod `toolchain` line may pick another toolchain)."""
    exe = find_tool("go", required=False)
    return _go_version(exe, str(directory) if directory else None) if exe else ""


@functools.lru_cache(maxsize=32)
def _go_version(exe: str, directory: str | None) -> str:
    try:
        proc = subprocess.run([exe, "env", "GOVERSION"], capture_output=True, text=True, cwd=directory,
                              timeout=GO_TIMEOUT, check=False, env=child_env())
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""
