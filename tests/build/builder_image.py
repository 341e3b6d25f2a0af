"""A local Go builder image for the docker backend (nothing can be pulled here).

`docker import` of a tarball holding the host's GOROOT (without tests and testdata), an empty
/tmp and nothing else: no shell, which the generated Dockerfile does not need. Tagged with the
Go version so later sessions reuse it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

SKIP_DIRS = {"test", "testdata", "doc", "api", "misc", ".git"}


def goroot() -> Path:
    return Path(subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True,
                               check=True).stdout.strip())


def go_version() -> str:
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                          check=True).stdout.strip().removeprefix("go")


def _rootfs_tar(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
        for dirpath, dirnames, filenames in os.walk(root):
            rel = Path(dirpath).relative_to(root)
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                if name.endswith("_test.go"):
                    continue
                path = Path(dirpath) / name
                tar.add(path, arcname=f"usr/local/go/{rel / name}", recursive=False)
    return buf.getvalue()


def _with_git(data: bytes) -> bytes:
    """The rootfs plus the host's git and the shared libraries it loads (as `ldd` lists them), as
    the `golang` images carry git."""
    git = shutil.which("git")
    assert git, "git is needed for the builder image with git"
    ldd = subprocess.run(["ldd", git], capture_output=True, text=True, check=True).stdout
    libs = sorted({p for p in re.findall(r"(/\S+\.so[.\d]*)", ldd) if Path(p).exists()})
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as old, tarfile.open(fileobj=out, mode="w") as tar:
        for member in old.getmembers():
            tar.addfile(member, old.extractfile(member) if member.isfile() else None)
        for path in [git, *libs]:
            real = Path(path).resolve()
            info = tar.gettarinfo(str(real), arcname=path.lstrip("/"))
            with real.open("rb") as f:
                tar.addfile(info, f)
    return out.getvalue()


def ensure_builder_image(client: object, git: bool = False) -> str:
    """Return the tag of the local builder image, creating it when missing; with `git`, one that
    also has git on its PATH."""
    tag = f"sccheck-test/go-builder:{go_version()}" + ("-git" if git else "")
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    if result.returncode == 0:
        return tag
    data = _rootfs_tar(goroot())
    if git:
        data = _with_git(data)
    changes = ["ENV PATH=/usr/local/go/bin:/usr/bin:/bin", "ENV GOPATH=/tmp/gopath",
               "ENV GOCACHE=/tmp/gocache", "ENV HOME=/tmp"]
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    subprocess.run([*argv, "-", tag], input=data, check=True, capture_output=True)
    return tag
