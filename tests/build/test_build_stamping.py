"""What a build stamps: the version the SBOM reads back, and a default output that never makes
the source it stamps look modified."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from supplychain.build import BuildRequest, PublishTarget, build, publish
from supplychain.build.settings import BuildSettings
from supplychain.sbom import generate_sbom
from tests.build.conftest import git_copy
from tests.conftest import EXAMPLES


def _main_versions(layout: Path, digest: str) -> list[str]:
    docs = generate_sbom(f"oci:{layout}@{digest}")
    return [v for d in docs for v in d.summary()["main_versions"]]


def test_the_sbom_reads_the_version_build_recorded(hello_repo: Path, tmp_path: Path) -> None:
    # hello_repo's commit has no tag: go stamps a pseudo-version, the SBOM names the release
    result = build(BuildRequest(str(hello_repo), base="scratch", version="1.2.3"))
    labels = json.loads(result.images[0].config)["config"]["Labels"]
    assert labels["dev.sccheck.go.x"] == "main.version=1.2.3"
    assert labels["dev.sccheck.go.version-var"] == "main.version"
    publish(result, PublishTarget(output=f"oci:{tmp_path / 'a'}"))
    assert _main_versions(tmp_path / "a", result.digest) == ["v1.2.3"]
    # a version variable the binary lacks: the label cannot be taken at its word
    wrong = build(BuildRequest(str(hello_repo), base="scratch", version="1.2.3",
                               settings=BuildSettings(version_var="main.nosuch")))
    publish(wrong, PublishTarget(output=f"oci:{tmp_path / 'b'}"))
    (found,) = _main_versions(tmp_path / "b", wrong.digest)
    assert found != "v1.2.3" and found.startswith("v0.0.0-")


def test_the_default_output_does_not_dirty_the_tree_it_stamps(sccheck, tmp_path: Path) -> None:
    repo = git_copy(EXAMPLES / "hello", tmp_path / "hello")
    first = sccheck("--json", "build", ".", "--version", "1.0.0", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert "dist/.gitignore" in first.stderr
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True,
                            text=True, check=True).stdout
    assert status == ""
    second = sccheck("--json", "build", ".", "--version", "1.0.0", cwd=repo)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["digest"] == json.loads(first.stdout)["digest"]
    assert (repo / "dist" / "oci" / "index.json").is_file()
