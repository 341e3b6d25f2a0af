"""An installed wheel works on its own: every file the commands read ships inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT

CHECK = """
import sys
import supplychain
from supplychain.pipeline.run import DEFAULT_POLICY
from supplychain.policy.loader import load_policy
site = sys.argv[1]
assert supplychain.__file__.startswith(site), supplychain.__file__
assert str(DEFAULT_POLICY).startswith(site) and DEFAULT_POLICY.is_file(), DEFAULT_POLICY
load_policy(DEFAULT_POLICY)
print("ok")
"""


def test_the_wheel_carries_the_default_policy(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w",
                           str(tmp_path / "dist")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(site)
    assert "supplychain/policies/default.yaml" in names
    assert (site / "supplychain" / "policies" / "default.yaml").read_bytes() == \
        (ROOT / "policies" / "default.yaml").read_bytes()
    # run from elsewhere, the wheel's copy first on the path: nothing read from the checkout
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", CHECK, str(site)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
