"""Fixtures for the analyzer tests: a real Go vulnerability DB directory built from real OSV
records, and each fixture module checked once per session by the real tools."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from supplychain.analyzers import CheckRequest, CheckResult, check
from tests.analyzers.vulndb import build_vulndb

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
ROOT = HERE.parent.parent


@pytest.fixture(scope="session")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_vulndb(tmp_path_factory.mktemp("vulndb") / "db")


@pytest.fixture(scope="session")
def checked(vulndb: Path) -> Callable[[str], CheckResult]:
    """`checked("vet_printf")` → the CheckResult of all four tools on that fixture (cached)."""
    cache: dict[str, CheckResult] = {}

    def run(name: str) -> CheckResult:
        if name not in cache:
            path = ROOT / "examples" / "hello" if name == "hello" else FIXTURES / name
            cache[name] = check(CheckRequest(path=path, vuln_db=str(vulndb)))
        return cache[name]

    return run


@pytest.fixture(scope="session")
def vuln_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vuln_called fixture built into a real Go binary."""
    out = tmp_path_factory.mktemp("bin") / "vulncalled"
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=FIXTURES / "vuln_called", check=True,
                   env={**os.environ, "CGO_ENABLED": "0"})
    return out
