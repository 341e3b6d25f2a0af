"""File modes: every output follows the umask like other tools' outputs; secrets are 0600 whatever
the umask. Real commands in a subprocess with a chosen umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from supplychain.tools import PROJECT_ROOT

HELLO = PROJECT_ROOT / "examples" / "hello"
VET_FIXTURE = PROJECT_ROOT / "tests" / "analyzers" / "fixtures" / "vet_printf"


def _run(umask: int, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "supplychain", *args], env=full, capture_output=True,
                          text=True, timeout=600, umask=umask)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o027, 0o002])
def test_outputs_follow_the_umask(tmp_path: Path, umask: int) -> None:
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    layout, tarball = tmp_path / "oci", tmp_path / "img.tar"
    sbom, sarif = tmp_path / "sbom.json", tmp_path / "v.sarif"
    built = _run(umask, "build", str(HELLO), "--platform", "linux/amd64", "--output", f"oci:{layout}",
                 "--tarball", str(tarball), "--version", "v0.0.1")
    assert built.returncode == 0, built.stderr
    made = _run(umask, "sbom", f"oci:{layout}", "--output", str(sbom))
    assert made.returncode == 0, made.stderr
    checked = _run(umask, "check", str(VET_FIXTURE), "--only", "vet", "--sarif", str(sarif))
    assert checked.returncode == 1, checked.stderr   # the fixture has a vet finding
    assert {p.name: oct(_mode(p)) for p in (tarball, sbom, sarif)} == dict.fromkeys(
        ("img.tar", "sbom.json", "v.sarif"), oct(file_mode))
    files = [p for p in layout.rglob("*") if p.is_file()]
    dirs = [layout, *(p for p in layout.rglob("*") if p.is_dir())]
    assert len(files) >= 4 and len(dirs) >= 3
    assert {oct(_mode(p)) for p in files} == {oct(file_mode)}
    assert {oct(_mode(p)) for p in dirs} == {oct(dir_mode)}


def test_a_private_key_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    made = _run(0o000, "generate-key-pair", "--output-prefix", str(tmp_path / "cosign"),
                env={"SCCHECK_KEY_PASSWORD": "pw-for-the-test"})
    assert made.returncode == 0, made.stderr
    assert _mode(tmp_path / "cosign.key") == 0o600
    assert _mode(tmp_path / "cosign.pub") == 0o666   # public: an output like any other


def test_dev_stack_private_material_is_0600_in_a_0700_directory(dev_stack) -> None:  # type: ignore[no-untyped-def]
    from supplychain.devstack.keys import KeyPaths
    from supplychain.devstack.state import StateDir

    state = StateDir.at(dev_stack.dir)
    paths = KeyPaths.of(state)
    secret = {paths.fulcio_key, paths.fulcio_pass, paths.ct_key, paths.rekor_key, paths.tsa_key,
              paths.oidc_key, paths.actions_token}
    assert _mode(state.keys) == 0o700
    assert {p.name: oct(_mode(p)) for p in secret} == {p.name: "0o600" for p in secret}
