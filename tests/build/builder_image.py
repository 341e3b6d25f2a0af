"""A local Go builder image for the docker backend (nothing can be pulled here).

`docker import` of a tarball holding the host's GOROOT (without tests and testdata), an empty
/tmp and nothing else: no shell, which the generated Dockerfile does not need. Tagged with the
Go version so later sessions reuse it.
"""

from __future__ import annotations

import io
import os
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


def ensure_builder_image(client: object) -> str:
    """Return the tag of the local builder image, creating it when missing."""
    tag = f"sccheck-test/go-builder:{go_version()}"
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    if result.returncode == 0:
        return tag
    data = _rootfs_tar(goroot())
    changes = ["ENV PATH=/usr/local/go/bin:/usr/bin:/bin", "ENV GOPATH=/tmp/gopath",
               "ENV GOCACHE=/tmp/gocache", "ENV HOME=/tmp"]
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    subprocess.run([*argv, "-", tag], input=data, check=True, capture_output=True)
    return tag
