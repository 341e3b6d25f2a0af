"""Images made by the real `sccheck build` (daemonless, static and scratch bases, two platforms)
pass `harden check`, and their generated manifests pass the restricted check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from supplychain.harden.config import CheckOptions
from supplychain.harden.imagecheck import check_image
from supplychain.harden.k8s import check_manifests, generate_manifests
from supplychain.image.filesystem import platform_images
from supplychain.image.layout import OCILayout
from tests.conftest import EXAMPLES, run_sccheck

BASE_NAME = "org.opencontainers.image.base.name"


@pytest.fixture(scope="module", params=["static", "scratch"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp(f"built-{request.param}") / "oci"
    proc = run_sccheck("--json", "build", str(EXAMPLES / "hello"), "--base", request.param,
                       "--platform", "linux/amd64,linux/arm64", "--output", f"oci:{out}")
    assert proc.returncode == 0, proc.stderr
    return f"oci:{out}@{json.loads(proc.stdout)['digest']}"


def test_built_image_passes_harden_check(built: str) -> None:
    report = check_image(built, CheckOptions())
    assert report.passed and report.threshold == "medium"
    assert [s.platform for s in report.platforms] == ["linux/amd64", "linux/arm64"]
    layout = OCILayout(built[4:].split("@")[0])
    labels = [(img.config.get("config") or {}).get("Labels") or {}
              for img in platform_images(layout, report.digest)]
    # The built-in bases are FROM nothing and say so (base.name=scratch): no finding at all.
    assert all(lab.get(BASE_NAME) == "scratch" for lab in labels)
    assert report.findings == ()


def test_built_image_runs_at_the_restricted_level(built: str, tmp_path: Path) -> None:
    out = tmp_path / "app.yaml"
    gen = generate_manifests(built, repository="localhost:5000/team/hello", output=str(out))
    assert (gen.uid, gen.gid) == (65532, 65532)
    assert gen.image == "localhost:5000/team/hello@" + built.rsplit("@", 1)[1]
    assert [d["kind"] for d in yaml.safe_load_all(out.read_text())] == ["Deployment", "NetworkPolicy"]
    assert check_manifests(str(out)).passed
