"""Fixtures of the build tests: git copies of examples/hello, a synthetic multi-platform base."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, BuildResult, PublishTarget, build, publish
from supplychain.build.layers import file, make_layer
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.layout import OCILayout
from tests.conftest import EXAMPLES

COMMIT_DATE = "2026-01-02T03:04:05Z"
COMMIT_EPOCH = 1767323045
BOTH = ("linux/amd64", "linux/arm64")


def git_copy(source: Path, dest: Path) -> Path:
    """Copy a module into `dest` and commit it with fixed identity and dates."""
    shutil.copytree(source, dest)
    env = {**os.environ, "GIT_AUTHOR_NAME": "sccheck", "GIT_AUTHOR_EMAIL": "ci@sccheck.invalid",
           "GIT_COMMITTER_NAME": "sccheck", "GIT_COMMITTER_EMAIL": "ci@sccheck.invalid",
           "GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE}
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "hello"]):
        subprocess.run(["git", "-C", str(dest), *argv], env=env, check=True, capture_output=True)
    return dest


def revision(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="session")
def hello_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return git_copy(EXAMPLES / "hello", tmp_path_factory.mktemp("src-a") / "hello")


@pytest.fixture(scope="session")
def hello_multi(hello_repo: Path) -> BuildResult:
    """examples/hello for linux/amd64 + linux/arm64 on the static base, version 1.2.3."""
    return build(BuildRequest(str(hello_repo), platforms=BOTH, version="1.2.3"))


@pytest.fixture(scope="session")
def hello_layout(hello_multi: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("layout") / "oci"
    publish(hello_multi, PublishTarget(output=f"oci:{out}", tag="hello:1.2.3"))
    return out


def make_base_layout(path: Path, platforms: tuple[str, ...] = BOTH, tag: str = "3.20") -> str:
    """An "alpine-like" base: one layer with a few files, a Cmd shell, per platform; an index.
    Returns the index digest."""
    manifests = []
    with OCILayout.transaction(path) as layout:
        for text in platforms:
            os_, arch = text.split("/")
            layer = make_layer([file("/etc/os-release", f"ID=minibase\nARCH={arch}\n".encode()),
                                file("/bin/sh", b"#!fake shell\n", 0o755),
                                file("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")], 0)
            layout.write_blob(layer.data, layer.descriptor)
            config = canonical_json({
                "architecture": arch, "os": os_,
                "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"],
                           "Labels": {"base.vendor": "minibase"}},
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
                "history": [{"created_by": "minibase"}]})
            config_desc = layout.write_blob(config, Descriptor.for_bytes(MediaType.OCI_CONFIG, config))
            manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                                       "config": config_desc.to_dict(),
                                       "layers": [layer.descriptor.to_dict()]})
            desc = Descriptor.for_bytes(MediaType.OCI_MANIFEST, manifest,
                                        platform={"os": os_, "architecture": arch})
            layout.write_blob(manifest, desc)
            manifests.append(desc.to_dict())
        index = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX,
                                "manifests": manifests})
        return layout.write_manifest(index, MediaType.OCI_INDEX, tag)


def skopeo_inspect(ref: str, *extra: str) -> dict:
    out = subprocess.run(["skopeo", "inspect", *extra, ref], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)
