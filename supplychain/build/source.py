"""Facts about the source tree from git: revision, commit time, origin, a version string."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from supplychain.tools import child_env


@dataclass(frozen=True)
class SourceInfo:
    revision: str | None = None
    commit_time: int | None = None
    remote: str | None = None
    describe: str | None = None
    toplevel: str | None = None     # the work tree's root directory
    branch: str | None = None       # the checked-out branch, None when detached


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30, check=False, env=child_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def strip_credentials(url: str) -> str:
    """Never put a token embedded in a remote URL into an image label."""
    return re.sub(r"^([a-z+]+://)[^/@]*@", r"\1", url)


def source_info(root: Path) -> SourceInfo:
    revision = _git(root, "rev-parse", "HEAD")
    if revision is None:
        return SourceInfo()
    ct = _git(root, "log", "-1", "--format=%ct")
    remote = _git(root, "config", "--get", "remote.origin.url")
    return SourceInfo(
        revision=revision,
        commit_time=int(ct) if ct and ct.isdigit() else None,
        remote=strip_credentials(remote) if remote else None,
        describe=_git(root, "describe", "--tags", "--always", "--dirty"),
        toplevel=_git(root, "rev-parse", "--show-toplevel"),
        branch=_git(root, "symbolic-ref", "--quiet", "--short", "HEAD"),
    )


def build_epoch(explicit: int | None, info: SourceInfo) -> int:
    """SOURCE_DATE_EPOCH (explicit or from the environment), else the commit time, else 0."""
    if explicit is not None:
        return explicit
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env.isdigit():
        return int(env)
    return info.commit_time or 0
