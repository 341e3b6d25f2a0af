"""Images we write, loaded into the real Docker engine and run; the docker backend compared
with the daemonless builder."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, PublishTarget, build, publish
from supplychain.build.docker_backend import CACHE_VOLUME, CONTAINER_LABEL
from supplychain.build.settings import BuildSettings
from supplychain.errors import BuildError
from supplychain.image.filesystem import image_filesystem, platform_images
from supplychain.image.layout import OCILayout
from tests.build.builder_image import ensure_builder_image
from tests.build.conftest import BOTH, make_base_layout
from tests.conftest import EXAMPLES

MODULES = Path(__file__).parent / "modules"

pytestmark = pytest.mark.docker


def _run_version(image: str) -> str:
    out = subprocess.run(["docker", "run", "--rm", "--network", "none", image, "version"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _rmi(*images: str) -> None:
    subprocess.run(["docker", "rmi", "-f", *images], capture_output=True, check=False)


def test_tarball_load_and_skopeo_copy_run_the_version(sccheck, docker_client, hello_repo: Path,
                                                      tmp_path: Path) -> None:
    tarball, layout = tmp_path / "hello.tar", tmp_path / "oci"
    tags = ["sccheck-test/hello:tarball", "sccheck-test/hello:load", "sccheck-test/hello:skopeo"]
    try:
        result = sccheck("--json", "build", str(hello_repo), "--platform", "linux/amd64,linux/arm64",
                         "--version", "1.2.3", "--output", f"oci:{layout}", "--tarball", str(tarball),
                         "--tag", tags[0])
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert out["platforms"] == ["linux/amd64", "linux/arm64"]
        assert out["output"] == f"oci:{layout}" and out["tarball"] == str(tarball)
        assert out["reference"] is None and out["digest"].startswith("sha256:")
        # an independent validator reads the tarball, docker load reads it too
        crane = subprocess.run(["crane", "validate", "--tarball", str(tarball)], capture_output=True,
                               text=True)
        assert crane.returncode == 0 and f"PASS: {tarball}" in crane.stdout, crane.stderr
        loaded = subprocess.run(["docker", "load", "-i", str(tarball)], capture_output=True, text=True)
        assert loaded.stdout.strip() == f"Loaded image: {tags[0]}", loaded.stderr
        assert _run_version(tags[0]) == "1.2.3"
        # --load into the engine
        result = sccheck("--json", "build", str(hello_repo), "--version", "1.2.3", "--load", "--tag", tags[1])
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["loaded"] == tags[1]
        assert _run_version(tags[1]) == "1.2.3"
        inspect = docker_client.images.get(tags[1]).attrs["Config"]
        assert inspect["User"] == "65532:65532" and inspect["Entrypoint"] == ["/usr/local/bin/hello"]
        # skopeo copies the layout into the daemon
        copy = subprocess.run(["skopeo", "copy", f"oci:{layout}:tarball", f"docker-daemon:{tags[2]}"],
                              capture_output=True, text=True)
        assert copy.returncode == 0, copy.stderr
        assert _run_version(tags[2]) == "1.2.3"
    finally:
        _rmi(*tags)


def _summary(layout: Path) -> dict:
    store = OCILayout(layout)
    [image] = platform_images(store, "latest")
    fs = image_filesystem(store, image)
    cfg = image.config["config"]
    return {"files": sorted((p, e.kind) for p, e in fs.files.items()), "user": cfg["User"],
            "entrypoint": cfg["Entrypoint"], "cmd": cfg.get("Cmd"), "workdir": cfg["WorkingDir"],
            "labels": cfg["Labels"], "env": cfg["Env"],
            "modes": {p: (e.mode & 0o7777, e.uid, e.gid) for p, e in fs.files.items()
                      if p in ("/tmp", "/usr/local/bin/hello", "/etc/passwd", "/home/nonroot")}}


def test_docker_backend_matches_the_daemonless_image(docker_client, hello_repo: Path,
                                                     tmp_path: Path) -> None:
    builder = ensure_builder_image(docker_client)
    result = build(BuildRequest(str(hello_repo), builder="docker", version="1.2.3", builder_image=builder))
    assert result.builder == "docker" and result.platforms == ("linux/amd64",)
    publish(result, PublishTarget(output=f"oci:{tmp_path / 'docker'}"))
    daemonless = build(BuildRequest(str(hello_repo), version="1.2.3"))
    publish(daemonless, PublishTarget(output=f"oci:{tmp_path / 'oci'}"))
    from_docker, ours = _summary(tmp_path / "docker"), _summary(tmp_path / "oci")
    assert from_docker == ours
    # a git checkout: the engine's go stamps the host's VCS facts too, so the digests are one
    assert result.digest == daemonless.digest, result.notes
    assert ours["user"] == "65532:65532" and ours["entrypoint"] == ["/usr/local/bin/hello"]
    tag = "sccheck-test/hello:docker-backend"
    try:
        publish(result, PublishTarget(output=None, load=True, tag=tag))
        assert _run_version(tag) == "1.2.3"
    finally:
        _rmi(tag)


def test_docker_backend_on_a_base_from_the_engine(docker_client, hello_repo: Path, tmp_path: Path) -> None:
    builder = ensure_builder_image(docker_client)
    make_base_layout(tmp_path / "minibase", platforms=("linux/amd64",))
    tag = "sccheck-test/minibase:3.20"
    try:
        subprocess.run(["skopeo", "copy", f"oci:{tmp_path / 'minibase'}:3.20", f"docker-daemon:{tag}"],
                       check=True, capture_output=True)
        result = build(BuildRequest(str(hello_repo), builder="docker", base=tag, version="1.2.3",
                                    builder_image=builder))
        publish(result, PublishTarget(output=f"oci:{tmp_path / 'out'}"))
        summary = _summary(tmp_path / "out")
        files = {path for path, _ in summary["files"]}
        assert {"/etc/os-release", "/bin/sh", "/usr/local/bin/hello"} <= files
        assert summary["cmd"] is None and summary["entrypoint"] == ["/usr/local/bin/hello"]
        assert summary["user"] == "65532:65532"
        with pytest.raises(BuildError) as one_platform:
            build(BuildRequest(str(hello_repo), builder="docker", base=tag, platforms=BOTH,
                               builder_image=builder))
        assert one_platform.value.message == \
            f"the base {tag} in the engine is for linux/amd64, not linux/arm64"
    finally:
        _rmi(tag)
    with pytest.raises(BuildError) as info:
        build(BuildRequest(str(hello_repo), builder="docker", base="sccheck-test/absent:1",
                           builder_image=builder))
    assert info.value.message == "the base sccheck-test/absent:1 is not in the Docker engine"


def _engine_objects() -> dict[str, set[str]]:
    """Every image and container the engine has, and the volumes."""
    def ids(*argv: str) -> set[str]:
        out = subprocess.run(["docker", *argv], capture_output=True, text=True, check=True).stdout
        return set(out.split())
    return {"images": ids("images", "-a", "-q", "--no-trunc"),
            "containers": ids("ps", "-a", "-q", "--no-trunc"), "volumes": ids("volume", "ls", "-q")}


@contextmanager
def _leaves_nothing_behind() -> Iterator[None]:
    """The engine gains no image, no container and no volume but go's build cache."""
    before = _engine_objects()
    yield
    after = _engine_objects()
    assert after["images"] - before["images"] == set()
    assert after["containers"] - before["containers"] == set()
    assert after["volumes"] - before["volumes"] <= {CACHE_VOLUME}
    labelled = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label={CONTAINER_LABEL}"],
                              capture_output=True, text=True, check=True).stdout
    assert labelled.strip() == ""


def test_two_docker_builds_give_the_daemonless_digest(docker_client, tmp_path: Path) -> None:
    """Outside git (so go stamps no VCS info) the engine's binaries are the host's, byte for
    byte, and the image is assembled by the same code: one digest for every build."""
    builder = ensure_builder_image(docker_client)
    src = shutil.copytree(EXAMPLES / "hello", tmp_path / "hello")
    request = BuildRequest(str(src), platforms=BOTH, version="1.2.3", source_date_epoch=1767323045)
    with _leaves_nothing_behind():
        first = build(replace(request, builder="docker", builder_image=builder))
        second = build(replace(request, builder="docker", builder_image=builder))
    assert first.builder == "docker" and first.platforms == ("linux/amd64", "linux/arm64")
    assert first.media_type == "application/vnd.oci.image.index.v1+json"
    assert first.digest == second.digest
    daemonless = build(request)
    assert daemonless.digest == first.digest
    assert first.platform_digests == daemonless.platform_digests


def test_docker_build_of_a_workspace_with_data(docker_client, tmp_path: Path) -> None:
    builder = ensure_builder_image(docker_client)
    work = shutil.copytree(MODULES / "work", tmp_path / "work")
    data = tmp_path / "kodata"
    data.mkdir()
    (data / "index.html").write_text("<h1>hi</h1>\n")
    request = BuildRequest(str(work / "app"), base="scratch", version="1.2.3",
                           settings=BuildSettings(data=str(data)))
    with _leaves_nothing_behind():
        result = build(replace(request, builder="docker", builder_image=builder))
    assert result.digest == build(request).digest
    layout = tmp_path / "oci"
    publish(result, PublishTarget(output=f"oci:{layout}"))
    [image] = platform_images(OCILayout(layout), "latest")
    fs = image_filesystem(OCILayout(layout), image)
    assert fs.files["/var/run/sccheck/index.html"].mode & 0o7777 == 0o644
    assert "SCCHECK_DATA_PATH=/var/run/sccheck" in image.config["config"]["Env"]
    tag = "sccheck-test/work:docker-backend"
    try:
        publish(result, PublishTarget(output=None, load=True, tag=tag))
        out = subprocess.run(["docker", "run", "--rm", "--network", "none", tag], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.strip().startswith("app "), out.stderr
    finally:
        _rmi(tag)


def test_a_failed_docker_compile_leaves_no_container(docker_client, sccheck, tmp_path: Path) -> None:
    builder = ensure_builder_image(docker_client)
    src = tmp_path / "broken"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/broken\n\ngo 1.22\n")
    (src / "main.go").write_text("package main\n\nfunc main() { undefined() }\n")
    with _leaves_nothing_behind(), pytest.raises(BuildError) as info:
        build(BuildRequest(str(src), base="scratch", builder="docker", builder_image=builder))
    assert "undefined: undefined" in info.value.facts["compiler output"]
    absent = "sccheck-test/absent-go:1"
    with pytest.raises(BuildError) as missing:
        build(BuildRequest(str(src), base="scratch", builder="docker", builder_image=absent))
    assert missing.value.message == f"the Go builder image {absent} is not in the Docker engine"
    cli = sccheck("--json", "build", str(src), "--builder", "docker", "--builder-image", absent)
    assert cli.returncode == 3, cli.stderr
    error = json.loads(cli.stdout)
    assert error["message"] == f"the Go builder image {absent} is not in the Docker engine"
    assert "--builder-image" in error["fix"] and "docker import" in error["fix"]
