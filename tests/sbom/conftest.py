"""Session fixtures of the SBOM tests: real Go binaries (built once) and OCI layouts holding them."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sbom.images import (
    Entry,
    PlatformSpec,
    alpine_base,
    binary_image,
    debian_base,
    go_build,
    write_image,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

HELLO_VERSION = "1.4.2"          # injected with -X main.version, built with -trimpath
COBRA_VERSION = "v2.0.1"         # injected with -X main.version, ldflags recorded (no -trimpath)
LOGTEXT_TAG = "v0.3.0"           # a git tag go build stamps (-buildvcs=true)


@dataclass(frozen=True)
class Built:
    hello: Path
    cobrayaml: Path
    logtext: Path
    logtext_arm64: Path


GIT_ENV = {"GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z", "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z",
           "PATH": "/usr/bin:/bin"}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=sccheck", "-c", "user.email=sccheck@example.com",
                    "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
                   cwd=repo, check=True, capture_output=True, env=GIT_ENV)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("sbom-bin")
    hello = go_build(ROOT / "examples" / "hello", out / "hello", ldflags=f"-X main.version={HELLO_VERSION}")
    cobra = go_build(FIXTURES / "cobrayaml", out / "cobrayaml", trimpath=False,
                     ldflags=f"-s -w -X main.version={COBRA_VERSION}")
    repo = out / "logtext-src"
    shutil.copytree(FIXTURES / "logtext", repo)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "logtext")
    _git(repo, "tag", LOGTEXT_TAG)
    logtext = go_build(repo, out / "logtext", buildvcs=True)
    logtext_arm = go_build(repo, out / "logtext-arm64", buildvcs=True, goarch="arm64")
    return Built(hello, cobra, logtext, logtext_arm)


@dataclass(frozen=True)
class Images:
    hello_alpine: Path        # examples/hello on an alpine-like base
    cobra_debian: Path        # cobrayaml on a debian-like (dpkg status + status.d) base
    logtext_multi: Path       # logtext for linux/amd64 and linux/arm64, scratch


@pytest.fixture(scope="session")
def images(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Images:
    root = tmp_path_factory.mktemp("sbom-images")
    binary_image(root / "hello", built.hello, base=alpine_base(), at="/app/hello")
    binary_image(root / "cobra", built.cobrayaml, base=debian_base(), at="/usr/local/bin/cobrayaml")
    write_image(root / "logtext", [
        PlatformSpec(arch, [[Entry("/ko-app", None, 0o755),
                             Entry("/ko-app/logtext", binary.read_bytes(), 0o755)]],
                     entrypoint=["/ko-app/logtext"])
        for arch, binary in (("amd64", built.logtext), ("arm64", built.logtext_arm64))
    ])
    return Images(root / "hello", root / "cobra", root / "logtext")
