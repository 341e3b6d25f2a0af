"""`--builder docker` in a git work tree: the engine's go stamps the VCS facts the host's go
stamps, so the image is the daemonless build's, digest for digest; what reaches the engine of
the repository is what git needs to read the tree and nothing more."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, BuildResult, build
from supplychain.build.enginevcs import host_git_entries, host_repo, repo_entries, stamp_note
from supplychain.sbom.buildinfo import read_buildinfo
from supplychain.source import source_info
from tests.build.builder_image import ensure_builder_image
from tests.build.conftest import COMMIT_DATE, revision
from tests.conftest import EXAMPLES

GIT_ENV = {"GIT_AUTHOR_NAME": "sccheck", "GIT_AUTHOR_EMAIL": "ci@sccheck.invalid",
           "GIT_COMMITTER_NAME": "sccheck", "GIT_COMMITTER_EMAIL": "ci@sccheck.invalid",
           "GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], env={**os.environ, **GIT_ENV}, check=True,
                          capture_output=True, text=True).stdout


def _monorepo(tmp: Path, nested: bool = True) -> Path:
    """A repository whose module lies below its top (services/hello; or at the top), a file the
    repository's .gitignore hides next to the code, a remote with a token in its URL, a credential
    helper and a hook; tagged v1.4.0. Returns the module directory."""
    top = tmp / "mono"
    module = top / "services" / "hello" if nested else top
    shutil.copytree(EXAMPLES / "hello", module)
    (top / "README.md").write_text("a monorepo\n")
    (top / ".gitignore").write_text("local.txt\n")
    (module / "local.txt").write_text("only here\n")
    _git(top, "init", "-q", "-b", "main")
    _git(top, "remote", "add", "origin", "https://builder:ghp_secret-token@git.example.com/org/mono.git")
    _git(top, "config", "credential.helper", "store --file /root/.secret-credentials")
    _git(top, "config", "http.extraheader", "Authorization: Bearer another-secret")
    (top / ".git" / "hooks" / "post-checkout").write_text("#!/bin/sh\necho hook\n")
    _git(top, "add", "-A")
    _git(top, "commit", "-q", "-m", "mono")
    _git(top, "tag", "v1.4.0")
    # what a fetch and a submodule would leave beside: each names a remote with a token
    fetched = "https://fetch:ghp_fetch-token@git.example.com/org/mono"
    (top / ".git" / "FETCH_HEAD").write_text("0" * 40 + f"\t\tbranch 'main' of {fetched}\n")
    sub = top / ".git" / "modules" / "vendor-sub"
    sub.mkdir(parents=True)
    (sub / "config").write_text('[remote "origin"]\n\turl = https://sub:ghp_sub-token@git.example.com/sub\n')
    return module


def test_what_reaches_the_engine_of_a_repository(tmp_path: Path) -> None:
    module = _monorepo(tmp_path)
    repo = host_repo(module, source_info(module))
    assert repo is not None and repo.top == (tmp_path / "mono").resolve()
    assert repo.stamp.revision == revision(repo.top) and repo.stamp.modified is False
    assert repo.stamp.time == COMMIT_DATE
    entries = {e.path: e for e in repo_entries(repo, repo.top, "/src", [], max_files=10_000,
                                                max_bytes=1 << 30)}
    config = entries["/src/.git/config"].data or b""
    text = b"".join(e.data or b"" for e in entries.values())
    for secret in (b"ghp_secret-token", b"another-secret", b".secret-credentials", b"git.example.com",
                   b"ghp_fetch-token", b"ghp_sub-token"):
        assert secret not in text, secret
    assert b"repositoryformatversion = 0" in config and b"[remote" not in config
    assert not any("/.git/hooks/" in p or "/.git/logs/" in p for p in entries)
    assert "/src/.git/HEAD" in entries and "/src/.git/index" in entries
    assert "/src/services/hello/main.go" in entries and "/src/README.md" in entries
    assert "/src/services/hello/local.txt" not in entries     # ignored, and not asked for
    # a file the module's walk brings that git does not list is told to the container's git
    from supplychain.build.layers import file

    kept = repo_entries(repo, repo.top, "/src", [file("/src/services/hello/local.txt", b"only here\n")],
                        max_files=10_000, max_bytes=1 << 30)
    exclude = {e.path: e for e in kept}["/src/.git/info/exclude"].data or b""
    assert b"/services/hello/local.txt\n" in exclude


def test_a_binary_without_the_hosts_stamp_is_named(tmp_path: Path) -> None:
    module = _monorepo(tmp_path)
    repo = host_repo(module, source_info(module))
    assert repo is not None
    exe = tmp_path / "hello"
    env = {**os.environ, "CGO_ENABLED": "0"}
    subprocess.run(["go", "build", "-trimpath", "-buildvcs=false", "-o", str(exe), "."], cwd=module,
                   check=True, env=env, capture_output=True)
    note = stamp_note(exe.read_bytes(), repo.stamp)
    assert note and "no VCS stamp" in note and repo.stamp.revision in note
    subprocess.run(["go", "build", "-trimpath", "-buildvcs=true", "-o", str(exe), "."], cwd=module,
                   check=True, env=env, capture_output=True)
    assert stamp_note(exe.read_bytes(), repo.stamp) is None


def _stamp(result: BuildResult) -> dict[str, str]:
    return _stamp_of(result, "hello")


def _stamp_of(result: BuildResult, name: str) -> dict[str, str]:
    """The VCS settings and main module version of the image's binary (amd64), from our layer."""
    [image] = [i for i in result.images if str(i.platform) == "linux/amd64"]
    layer = result.blobs[image.layers[-1].digest]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer)), mode="r:") as tar:
        member = tar.extractfile(f"usr/local/bin/{name}")
        assert member is not None
        info = read_buildinfo(member.read())
    return {k: v for k, v in info.settings if k.startswith("vcs")} | {"version": info.main.version}


@pytest.mark.docker
@pytest.mark.parametrize(("nested", "image_git"), [(True, False), (False, False), (False, True)],
                         ids=["module-below-the-top", "module-at-the-top", "builder-image-with-git"])
def test_the_docker_builder_stamps_what_the_daemonless_build_stamps(docker_client, tmp_path: Path,
                                                                     nested: bool, image_git: bool) -> None:
    """The host's git goes into the engine with the tree, so a builder image without git (one made
    by docker import of a toolchain) stamps as the host does; one with its own git too."""
    builder = ensure_builder_image(docker_client, git=image_git)
    module = _monorepo(tmp_path, nested)
    request = BuildRequest(str(module))
    daemonless = build(request)
    docker = build(replace(request, builder="docker", builder_image=builder))
    assert docker.digest == daemonless.digest, docker.notes
    assert not any("VCS" in n or "stamp" in n for n in docker.notes), docker.notes
    stamp = _stamp(docker)
    assert stamp["vcs.revision"] == revision(tmp_path / "mono") and stamp["vcs.modified"] == "false"
    # go takes the module's version from the tag only where the module is the repository's top
    assert stamp["vcs.time"] == COMMIT_DATE and stamp["version"] == ("(devel)" if nested else "v1.4.0")
    # an untracked file makes both dirty, alike
    (module / "scratch.go.txt").write_text("not committed\n")
    dirty = build(request)
    dirty_docker = build(replace(request, builder="docker", builder_image=builder))
    assert dirty_docker.digest == dirty.digest != daemonless.digest
    assert _stamp(dirty_docker)["vcs.modified"] == "true"


@pytest.mark.docker
def test_with_no_git_in_the_engine_the_note_says_the_stamp_is_missing(
        docker_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine of another architecture cannot run the host's git; with a builder image that has
    none either, go stamps nothing, and the build says so."""
    from supplychain.build import docker_backend

    monkeypatch.setattr(docker_backend, "engine_arch", lambda client: None)
    builder = ensure_builder_image(docker_client)
    module = _monorepo(tmp_path)
    request = BuildRequest(str(module))
    docker = build(replace(request, builder="docker", builder_image=builder))
    [note] = [n for n in docker.notes if "no VCS stamp" in n]
    assert "no git on its PATH" in note and revision(tmp_path / "mono") in note
    assert docker.digest != build(request).digest


def test_the_hosts_git_is_carried_whole(tmp_path: Path) -> None:
    """The host's git, its loader and every library it needs (and theirs), and a static launcher
    for this machine's architecture; the launcher names only paths below the directory."""
    import platform

    from supplychain.build.elfcheck import linkage_of

    arch = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    entries = {e.path: e for e in host_git_entries("/sccheck/hostgit", arch) or []}
    assert "/sccheck/hostgit/bin/git" in entries
    launcher = linkage_of(entries["/sccheck/hostgit/bin/git"].data or b"", "launcher")
    assert launcher.is_static
    git = linkage_of(entries["/sccheck/hostgit/git"].data or b"", "git")
    libs = {p.rsplit("/", 1)[1] for p in entries if p.startswith("/sccheck/hostgit/lib/")}
    assert set(git.needed) <= libs and "/sccheck/hostgit/ld.so" in entries
    for name in libs:
        assert set(linkage_of(entries[f"/sccheck/hostgit/lib/{name}"].data or b"", name).needed) <= libs


@pytest.mark.docker
def test_a_workspace_in_a_repository_gets_the_daemonless_digest(docker_client, tmp_path: Path) -> None:
    """A go.work at the top of a repository, the main module one of its `use` directories: the
    engine's go finds the repository above the module, as the host's does."""
    builder = ensure_builder_image(docker_client)
    top = shutil.copytree(Path(__file__).parent / "modules" / "work", tmp_path / "work")
    _git(top, "init", "-q", "-b", "main")
    _git(top, "add", "-A")
    _git(top, "commit", "-q", "-m", "work")
    request = BuildRequest(str(top / "app"), base="scratch", version="1.2.3")
    daemonless = build(request)
    docker = build(replace(request, builder="docker", builder_image=builder))
    assert docker.digest == daemonless.digest, docker.notes
    assert _stamp_of(docker, "app")["vcs.revision"] == revision(top)
