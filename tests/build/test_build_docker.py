"""Images we write, loaded into the real Docker engine and run; the docker backend compared
with the daemonless builder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, PublishTarget, build, publish
from supplychain.errors import BuildError
from supplychain.image.filesystem import image_filesystem, platform_images
from supplychain.image.layout import OCILayout
from tests.build.builder_image import ensure_builder_image
from tests.build.conftest import make_base_layout

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
                      if p in ("/tmp", "/usr/local/bin/hello", "/etc/passwd")}}


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
    finally:
        _rmi(tag)
    with pytest.raises(BuildError) as info:
        build(BuildRequest(str(hello_repo), builder="docker", base="sccheck-test/absent:1",
                           builder_image=builder))
    assert info.value.message == "the base sccheck-test/absent:1 is not in the Docker engine"
