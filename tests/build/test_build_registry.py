"""--push to a real registry (distribution 2.8) and a base pulled from it by digest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from supplychain.build import BuildRequest, PublishTarget, build, publish
from supplychain.image.filesystem import image_filesystem, platform_images
from supplychain.progress import SilentProgress
from supplychain.stores import open_store
from tests.build.conftest import BOTH, make_base_layout


def _skopeo_raw(ref: str) -> dict:
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{ref}"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_push_multi_platform_then_read_back(sccheck, registry, hello_repo: Path) -> None:
    ref = registry.ref("sccheck/hello", "1.2.3")
    result = sccheck("--json", "build", str(hello_repo), "--platform", "linux/amd64,linux/arm64",
                     "--version", "1.2.3", "--push", ref)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["reference"] == f"{registry.host}/sccheck/hello@{out['digest']}"
    assert out["output"] is None and out["platforms"] == list(BOTH)
    raw = _skopeo_raw(ref)
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["amd64", "arm64"]
    # --json names each platform's manifest digest, as the registry serves them
    assert out["images"] == [{"platform": m["platform"]["os"] + "/" + m["platform"]["architecture"],
                              "digest": m["digest"]} for m in raw["manifests"]]
    digest = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                             f"docker://{ref}"], capture_output=True, text=True, check=True).stdout.strip()
    assert digest == out["digest"]  # the registry serves the index under our digest
    store = open_store(ref)
    images = platform_images(store, out["digest"])
    assert [i.platform for i in images] == list(BOTH)


def test_base_pulled_from_the_registry_by_digest(registry, hello_repo: Path,
                                                 tmp_path: Path) -> None:
    base_digest = make_base_layout(tmp_path / "minibase")
    base_ref = registry.ref("sccheck/minibase", "3.20")
    subprocess.run(["skopeo", "copy", "--all", "--dest-tls-verify=false", f"oci:{tmp_path / 'minibase'}:3.20",
                    f"docker://{base_ref}"], check=True, capture_output=True)
    result = build(BuildRequest(str(hello_repo), base=base_ref, platforms=BOTH, version="1.2.3"))
    assert result.base_digest == base_digest
    notes: list[str] = []

    class Recorder(SilentProgress):
        def info(self, message: str) -> None:
            notes.append(message)

    pushed = publish(result, PublishTarget(output=None, push=registry.ref("sccheck/on-minibase", "v1")),
                     Recorder())
    # the two base layers (amd64, arm64) are mounted from sccheck/minibase, not uploaded again
    assert notes == [f"{registry.host}/sccheck/on-minibase: 4 blob(s) uploaded, 2 mounted from the base's "
                     "repository"]
    assert pushed.reference == f"{registry.host}/sccheck/on-minibase@{result.digest}"
    store = open_store(pushed.reference)
    for image in platform_images(store, result.digest):
        labels = image.config["config"]["Labels"]
        assert labels["org.opencontainers.image.base.digest"] == base_digest
        assert labels["org.opencontainers.image.base.name"] == f"{registry.host}/sccheck/minibase"
        fs = image_filesystem(store, image)
        assert {"/etc/os-release", "/bin/sh", "/usr/local/bin/hello"} <= set(fs.files)
