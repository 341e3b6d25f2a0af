"""The daemonless builder on the real Go toolchain, read back by independent tools (skopeo)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, BuildResult, PublishTarget, build, publish
from supplychain.image.descriptor import MediaType
from supplychain.image.filesystem import image_filesystem, platform_images
from supplychain.image.layout import OCILayout
from tests.build.conftest import (
    BOTH,
    COMMIT_EPOCH,
    EXAMPLES,
    git_copy,
    make_base_layout,
    revision,
    skopeo_inspect,
)

LABEL = "org.opencontainers.image."


def test_index_lists_both_platforms_and_skopeo_reads_each(hello_multi: BuildResult, hello_layout: Path,
                                                          hello_repo: Path) -> None:
    assert hello_multi.media_type == MediaType.OCI_INDEX
    assert hello_multi.platforms == BOTH
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{hello_layout}:1.2.3"],
                                    capture_output=True, text=True, check=True).stdout)
    assert [m["platform"] for m in raw["manifests"]] == [
        {"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux"}]
    assert raw["annotations"][LABEL + "revision"] == revision(hello_repo)
    for arch in ("amd64", "arm64"):
        info = skopeo_inspect(f"oci:{hello_layout}:1.2.3", "--override-arch", arch)
        assert info["Architecture"] == arch and info["Os"] == "linux"
        assert len(info["Layers"]) == 2  # static base + the binary
    # the layout's blobs all verify (our own strict reader)
    layout = OCILayout(hello_layout)
    for image in platform_images(layout, "1.2.3"):
        for layer in image.layers:
            layout.read_blob(layer)


def test_config_user_entrypoint_labels(hello_multi: BuildResult, hello_repo: Path) -> None:
    for image in hello_multi.images:
        config = json.loads(image.config)
        assert config["architecture"] == image.platform.architecture and config["os"] == "linux"
        cfg = config["config"]
        assert cfg["User"] == "65532:65532"
        assert cfg["Entrypoint"] == ["/usr/local/bin/hello"]
        assert "Cmd" not in cfg
        assert cfg["WorkingDir"] == "/"
        assert cfg["Env"] == ["PATH=/usr/local/bin:/usr/bin:/bin"]
        assert cfg["Labels"] == {
            LABEL + "base.name": "scratch",   # static has no parent image: built FROM nothing
            LABEL + "created": "2026-01-02T03:04:05Z",
            LABEL + "revision": revision(hello_repo),
            LABEL + "source": "https://github.com/sccheck/examples/hello",
            LABEL + "version": "1.2.3",
            "dev.sccheck.go.x": "main.version=1.2.3",          # the -X settings, for the SBOM
            "dev.sccheck.go.version-var": "main.version",
        }
        assert config["created"] == "2026-01-02T03:04:05Z"
        assert hello_multi.created == COMMIT_EPOCH


def test_static_base_contents(hello_multi: BuildResult, hello_layout: Path) -> None:
    layout = OCILayout(hello_layout)
    for image in platform_images(layout, "1.2.3"):
        fs = image_filesystem(layout, image, want_content=lambda p: p.startswith("/etc/"))
        passwd = fs.read("/etc/passwd") or b""
        assert b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" in passwd
        assert fs.read("/etc/group") == b"root:x:0:\nnonroot:x:65532:\n"
        tmp = fs.get("/tmp")
        assert tmp is not None and tmp.kind == "dir" and tmp.mode == 0o1777
        certs = fs.read("/etc/ssl/certs/ca-certificates.crt") or b""
        assert certs == Path("/etc/ssl/certs/ca-certificates.crt").read_bytes()
        assert b"BEGIN CERTIFICATE" in certs
        home = fs.get("/home/nonroot")
        assert home is not None and (home.uid, home.gid, home.mode) == (65532, 65532, 0o700)
        binary = fs.get("/usr/local/bin/hello")
        assert binary is not None and (binary.mode, binary.uid, binary.gid) == (0o755, 0, 0)
        assert not any(p.startswith(("/bin", "/sbin", "/usr/bin", "/lib")) for p in fs.files)


def test_scratch_holds_only_the_binary(hello_repo: Path, tmp_path: Path) -> None:
    result = build(BuildRequest(str(hello_repo), base="scratch", version="1.2.3"))
    out = tmp_path / "oci"
    publish(result, PublishTarget(output=f"oci:{out}"))
    layout = OCILayout(out)
    [image] = platform_images(layout, "latest")
    fs = image_filesystem(layout, image)
    assert len(image.layers) == 1
    assert sorted(fs.files) == ["/usr", "/usr/local", "/usr/local/bin", "/usr/local/bin/hello"]
    assert skopeo_inspect(f"oci:{out}")["Digest"] == result.digest


def test_same_source_in_two_directories_gives_the_same_digest(hello_repo: Path, hello_multi: BuildResult,
                                                              tmp_path: Path) -> None:
    other = git_copy(EXAMPLES / "hello", tmp_path / "elsewhere" / "hello")
    assert revision(other) == revision(hello_repo)
    again = build(BuildRequest(str(other), platforms=BOTH, version="1.2.3"))
    assert again.digest == hello_multi.digest
    assert again.manifest == hello_multi.manifest
    # a different version is a different image; SOURCE_DATE_EPOCH overrides the commit time
    changed = build(BuildRequest(str(other), platforms=("linux/amd64",), version="1.2.3",
                                 source_date_epoch=0))
    assert json.loads(changed.images[0].config)["created"] == "1970-01-01T00:00:00Z"


def test_base_from_an_oci_layout_per_platform(hello_repo: Path, tmp_path: Path) -> None:
    base_dir = tmp_path / "minibase"
    base_digest = make_base_layout(base_dir)
    result = build(BuildRequest(str(hello_repo), base=f"oci:{base_dir}:3.20", platforms=BOTH,
                                version="1.2.3"))
    assert result.base_digest == base_digest
    out = tmp_path / "oci"
    publish(result, PublishTarget(output=f"oci:{out}"))
    layout = OCILayout(out)
    for image in platform_images(layout, "latest"):
        arch = image.platform.split("/")[1] if image.platform else ""
        fs = image_filesystem(layout, image, want_content=lambda p: p == "/etc/os-release")
        assert fs.read("/etc/os-release") == f"ID=minibase\nARCH={arch}\n".encode()
        assert fs.get("/usr/local/bin/hello") is not None
        cfg = image.config["config"]
        assert "Cmd" not in cfg and cfg["Entrypoint"] == ["/usr/local/bin/hello"]
        assert cfg["User"] == "65532:65532"
        assert cfg["Env"] == ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        assert cfg["Labels"]["base.vendor"] == "minibase"
        assert cfg["Labels"][LABEL + "base.digest"] == base_digest
        assert cfg["Labels"][LABEL + "base.name"] == f"oci:{base_dir}"
        assert len(image.layers) == 2
    assert skopeo_inspect(f"oci:{out}", "--override-arch", "arm64")["Architecture"] == "arm64"


def test_tzdata_is_embedded(hello_repo: Path) -> None:
    """--tzdata links time/tzdata (~450 KB of zone data, ~95 KB once gzip'd) into the binary."""
    plain = build(BuildRequest(str(hello_repo), base="scratch", version="1.2.3"))
    with_tz = build(BuildRequest(str(hello_repo), base="scratch", version="1.2.3", tzdata=True))
    grown = with_tz.images[0].app_layer.descriptor.size - plain.images[0].app_layer.descriptor.size
    assert 60_000 < grown < 400_000


def test_an_unchanged_rebuild_reuses_the_layer_and_gives_the_same_image(
        hello_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCCHECK_LAYER_CACHE", "1")
    monkeypatch.setenv("SCCHECK_CACHE_DIR", str(tmp_path / "cache"))
    req = BuildRequest(str(hello_repo), platforms=("linux/amd64",), version="1.2.3")
    first, second = build(req), build(req)
    assert (first.images[0].app_layer.reused, second.images[0].app_layer.reused) == (False, True)
    assert second.digest == first.digest and second.blobs == first.blobs
    monkeypatch.setenv("SCCHECK_LAYER_CACHE", "0")
    uncached = build(req)
    assert not uncached.images[0].app_layer.reused and uncached.digest == first.digest
